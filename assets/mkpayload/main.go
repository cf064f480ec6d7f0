// Command mkpayload turns the Debian packages unpacked by fetch-debs.sh into
// np's payload: a zstd-compressed tar whose first entry is manifest.json,
// followed by ready-made /nix/store paths for Nix, a static busybox and a CA
// bundle. The Debian binaries are made self-contained by copying every shared
// library they need next to them and pointing their ELF interpreter and
// RUNPATH into the store, so they run on any Linux with no host libraries.
//
// Usage:
//
//	go run ./assets/mkpayload -root BUILD/root -debs BUILD/debs.list -out BUILD/payload.tar.zst
//	go run ./assets/mkpayload -arch arm64 -root BUILD/arm64/root -debs BUILD/arm64/debs.list -out BUILD/arm64/payload.tar.zst
//
// The same inputs always give a byte-identical payload.
package main

import (
	"github.com/np-portable/np/extract"

	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/np-portable/np/internal/storepath"
)

type config struct {
	root      string
	debsList  string
	out       string
	compress  string
	keep      string
	patchelf  string
	zstdCLI   string
	storeDir  string
	arch      string // Debian architecture of the packages
	target    target
	debianPkg map[string]string // package name -> Debian version
	debsHash  string
}

func main() {
	var c config
	flag.StringVar(&c.root, "root", "", "staging root the .debs were extracted into (required)")
	flag.StringVar(&c.debsList, "debs", "", "debs.list written by fetch-debs.sh (required)")
	flag.StringVar(&c.out, "out", "", "payload file to write (required)")
	// The zstd CLI at --ultra -22 makes a payload about 2 MiB smaller than
	// klauspost's best level (16 vs 18 MiB here), which is what keeps np
	// under its size budget, so it is the default.
	flag.StringVar(&c.compress, "compress", "cli",
		"zstd implementation: cli (zstd --ultra -22 --long) or go (klauspost, best level)")
	flag.StringVar(&c.keep, "keep", "", "also copy the staged store tree to this new directory, for inspection")
	flag.StringVar(&c.arch, "arch", "amd64", "Debian architecture of the packages: amd64 or arm64")
	flag.StringVar(&c.patchelf, "patchelf", "patchelf", "patchelf program")
	flag.StringVar(&c.zstdCLI, "zstd", "zstd", "zstd program for -compress cli")
	flag.Parse()
	if c.root == "" || c.debsList == "" || c.out == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "mkpayload:", err)
		os.Exit(1)
	}
}

// storePath is one payload store path being built.
type storePath struct {
	name        string // e.g. nix-2.26.3
	hash        string // 32-character hash part: provisional until contentAddress
	provisional string // the hash part it was staged under
	dir         string // staging directory holding its contents
	note        string // what it holds, for the summary line
}

func (p *storePath) base() string { return p.hash + "-" + p.name }

// full is the absolute path the store path has at run time.
func (p *storePath) full() string { return extract.StoreDir + "/" + p.base() }

func run(c *config) error {
	t, ok := targets[c.arch]
	if !ok {
		return fmt.Errorf("unsupported architecture %q (amd64 or arm64)", c.arch)
	}
	c.target = t
	list, err := os.ReadFile(c.debsList)
	if err != nil {
		return fmt.Errorf("reading deb list: %w", err)
	}
	sum := sha256.Sum256(list)
	c.debsHash = hex.EncodeToString(sum[:])
	if c.debianPkg, err = parseDebList(string(list)); err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "mkpayload-")
	if err != nil {
		return fmt.Errorf("creating work dir: %w", err)
	}
	defer os.RemoveAll(work)
	c.storeDir = filepath.Join(work, "store")
	if err := os.Mkdir(c.storeDir, 0o755); err != nil {
		return fmt.Errorf("creating store dir: %w", err)
	}

	nixVersion, err := c.upstream("nix-bin")
	if err != nil {
		return err
	}
	nix, err := c.newPath("nix-" + nixVersion)
	if err != nil {
		return err
	}
	nlibs, err := stageNix(c, nix, nixVersion)
	if err != nil {
		return err
	}
	if _, err := stageManPages(c, nix); err != nil {
		return err
	}

	bbVersion, err := c.upstream("busybox-static")
	if err != nil {
		return err
	}
	bb, err := c.newPath("busybox-" + bbVersion)
	if err != nil {
		return err
	}
	if err := stageBusybox(c, bb); err != nil {
		return err
	}

	caVersion, err := c.upstream("ca-certificates")
	if err != nil {
		return err
	}
	ca, err := c.newPath("ca-certificates-" + caVersion)
	if err != nil {
		return err
	}
	if err := stageCABundle(c, ca); err != nil {
		return err
	}

	paths := []*storePath{nix, bb, ca}
	if err := contentAddress(paths); err != nil {
		return err
	}
	m := extract.Manifest{
		Version:    1,
		NixVersion: nixVersion,
		Nix:        nix.full(),
		Busybox:    bb.full(),
		CABundle:   ca.full() + "/" + caBundleRel,
	}
	if m.Paths, err = describe(paths); err != nil {
		return err
	}

	if c.keep != "" {
		if err := copyTree(c.storeDir, c.keep); err != nil {
			return err
		}
	}

	tarball, err := writeTar(c.storeDir, &m)
	if err != nil {
		return err
	}
	payload, how, err := compress(c, tarball)
	if err != nil {
		return err
	}
	tmp := c.out + ".tmp"
	if err := os.WriteFile(tmp, payload, 0o644); err != nil {
		return fmt.Errorf("writing payload: %w", err)
	}
	if err := os.Rename(tmp, c.out); err != nil {
		return fmt.Errorf("writing payload: %w", err)
	}

	var names []string
	for _, p := range paths {
		names = append(names, p.base()+" ("+p.note+")")
	}
	fmt.Printf("mkpayload: %d store paths [%s], %d libs, tar %.1f MiB, %s %.1f MiB -> %s\n",
		len(paths), strings.Join(names, ", "), nlibs,
		float64(len(tarball))/(1<<20), how, float64(len(payload))/(1<<20), c.out)
	return nil
}

// newPath allocates a store path to stage into, under a provisional hash
// part (from its name and the exact set of .deb files, so it is
// reproducible and unlikely to occur by chance in a binary);
// contentAddress later renames it after its content.
func (c *config) newPath(name string) (*storePath, error) {
	if err := storepath.ValidName(name); err != nil {
		return nil, err
	}
	p := &storePath{
		name: name,
		hash: storepath.HashPart("np-payload-v1:" + name + ":" + c.debsHash),
	}
	p.dir = filepath.Join(c.storeDir, p.base())
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", p.name, err)
	}
	return p, nil
}

// parseDebList maps package names to versions from .deb file names of the
// form name_version_arch.deb, where apt writes the epoch colon as %3a.
func parseDebList(list string) (map[string]string, error) {
	pkgs := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(strings.TrimSuffix(line, ".deb"), "_")
		if len(f) != 3 || !strings.HasSuffix(line, ".deb") {
			return nil, fmt.Errorf("parsing deb list: unexpected file name %q", line)
		}
		pkgs[f[0]] = strings.ReplaceAll(strings.ReplaceAll(f[1], "%3a", ":"), "%3A", ":")
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("parsing deb list: no packages")
	}
	return pkgs, nil
}

// upstream returns the upstream version of a package: no epoch, no Debian
// revision, and no repack marker such as +dfsg, so nix-bin 2.26.3+dfsg-1
// gives 2.26.3. A native package's own suffix (ca-certificates'
// 20250419+deb13u1) is kept because it is the only thing telling updates
// apart.
func (c *config) upstream(pkg string) (string, error) {
	v, ok := c.debianPkg[pkg]
	if !ok {
		return "", fmt.Errorf("finding %s version: package not in deb list", pkg)
	}
	if i := strings.Index(v, ":"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.LastIndex(v, "-"); i >= 0 {
		v = v[:i]
	}
	for _, marker := range []string{"+dfsg", "+ds", "+repack", "~dfsg", "~ds"} {
		if i := strings.Index(v, marker); i >= 0 {
			v = v[:i]
		}
	}
	return v, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
