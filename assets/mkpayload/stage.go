package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// target is what differs between the payload's architectures: the ELF
// machine its binaries must be, and the multiarch directory Debian puts
// their libraries in.
type target struct {
	machine   elf.Machine
	multiarch string
}

// targets are the payload architectures, by Debian name (fetch-debs.sh's
// ARCH). The ELF interpreter needs no entry: each binary names its own
// (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1) and it is
// found in the staging root like any library.
var targets = map[string]target{
	"amd64": {machine: elf.EM_X86_64, multiarch: "x86_64-linux-gnu"},
	"arm64": {machine: elf.EM_AARCH64, multiarch: "aarch64-linux-gnu"},
}

// libDirs are the staging-root directories searched for DT_NEEDED
// libraries, in the order the Debian dynamic linker would consult them.
// Only the staging tree is searched: the build host's own libraries are a
// different Debian release and must never leak into the payload.
func (t target) libDirs() []string {
	return []string{
		"lib/" + t.multiarch,
		"usr/lib/" + t.multiarch,
		"lib64",
		"usr/lib64",
		"lib",
		"usr/lib",
	}
}

const caBundleRel = "etc/ssl/certs/ca-bundle.crt"

// resolveIn follows symlinks for rel inside root, component by component,
// treating absolute link targets as relative to root. Letting the OS follow
// them instead would resolve /usr/lib/... links against the build host.
func resolveIn(root, rel string) (string, error) {
	todo := strings.Split(rel, "/")
	cur := ""
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			if cur == "." || cur == "/" {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("resolving %s in staging root: %w", rel, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolving %s in staging root: too many symlinks", rel)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("resolving %s in staging root: %w", rel, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = ""
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, nil
}

// copyFile copies src to dst with the given permissions.
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	// The umask may have narrowed perm; the store layout depends on it.
	if err := os.Chmod(dst, perm); err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return nil
}

func symlink(target, link string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("creating symlink %s: %w", link, err)
	}
	if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("creating symlink %s: %w", link, err)
	}
	return nil
}

// elfInfo is what the staging needs to know about one ELF file.
type elfInfo struct {
	interp  string
	needed  []string
	soname  string
	static  bool
	machine elf.Machine
	class   elf.Class
}

func readELF(p string) (*elfInfo, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading elf %s: %w", p, err)
	}
	defer f.Close()
	info := &elfInfo{machine: f.Machine, class: f.Class}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			b, err := io.ReadAll(prog.Open())
			if err != nil {
				return nil, fmt.Errorf("reading elf %s interpreter: %w", p, err)
			}
			info.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if f.Section(".dynamic") == nil {
		info.static = info.interp == ""
		return info, nil
	}
	if info.needed, err = f.ImportedLibraries(); err != nil {
		return nil, fmt.Errorf("reading elf %s needed libraries: %w", p, err)
	}
	sonames, err := f.DynString(elf.DT_SONAME)
	if err != nil {
		return nil, fmt.Errorf("reading elf %s soname: %w", p, err)
	}
	if len(sonames) > 0 {
		info.soname = sonames[0]
	}
	return info, nil
}

func isELF(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", p, err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, fmt.Errorf("checking %s: %w", p, err)
	}
	return string(magic[:]) == elf.ELFMAG, nil
}

// findLib locates a DT_NEEDED name in the staging root and returns the real
// file behind it, skipping candidates of another architecture the way the
// dynamic linker does.
func findLib(root string, t target, soname string) (string, *elfInfo, error) {
	for _, d := range t.libDirs() {
		if _, err := os.Lstat(filepath.Join(root, d, soname)); err != nil {
			continue
		}
		rel, err := resolveIn(root, d+"/"+soname)
		if err != nil {
			return "", nil, err
		}
		real := filepath.Join(root, rel)
		fi, err := os.Stat(real)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		info, err := readELF(real)
		if err != nil {
			return "", nil, err
		}
		if info.machine != t.machine || info.class != elf.ELFCLASS64 {
			continue
		}
		return real, info, nil
	}
	return "", nil, fmt.Errorf("finding library %s: not in staging root (searched %s)", soname, strings.Join(t.libDirs(), ", "))
}

// stageNix builds the nix store path: the nix binary, its tool symlinks,
// libexec helpers and the complete shared-library closure, then patches the
// ELF files to find the interpreter and libraries inside the store path.
// It returns the number of libraries copied.
func stageNix(c *config, p *storePath, version string) (int, error) {
	nixRel, err := resolveIn(c.root, "usr/bin/nix")
	if err != nil {
		return 0, err
	}
	nixSrc := filepath.Join(c.root, nixRel)
	if err := checkVersion(nixSrc, version); err != nil {
		return 0, err
	}
	bin := filepath.Join(p.dir, "bin")
	if err := copyFile(nixSrc, filepath.Join(bin, "nix"), 0o755); err != nil {
		return 0, err
	}
	executables := []string{filepath.Join(bin, "nix")}

	// Every usr/bin entry that resolves to the nix binary is one of the
	// legacy nix-* commands, which nix dispatches on argv[0]; discovering
	// them keeps the list in step with the package.
	tools := 0
	ents, err := os.ReadDir(filepath.Join(c.root, "usr/bin"))
	if err != nil {
		return 0, fmt.Errorf("listing staging usr/bin: %w", err)
	}
	for _, e := range ents {
		if e.Name() == "nix" || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		rel, err := resolveIn(c.root, "usr/bin/"+e.Name())
		if err != nil || rel != nixRel {
			continue
		}
		if err := symlink("nix", filepath.Join(bin, e.Name())); err != nil {
			return 0, err
		}
		tools++
	}
	if tools == 0 {
		return 0, fmt.Errorf("staging nix: no nix-* tool symlinks found in usr/bin")
	}

	// libexec/nix holds helpers such as build-remote. Links to the nix
	// binary are recreated relative to the store path's own bin/nix;
	// anything else is copied, and ELF helpers get patched too.
	libexec := "usr/libexec/nix"
	err = filepath.WalkDir(filepath.Join(c.root, libexec), func(src string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("walking %s: %w", libexec, err)
		}
		relSrc, _ := filepath.Rel(c.root, src)
		relDst, _ := filepath.Rel("usr", relSrc)
		dst := filepath.Join(p.dir, relDst)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("staging %s: %w", relSrc, err)
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := resolveIn(c.root, filepath.ToSlash(relSrc))
			if err != nil {
				return err
			}
			if target != nixRel {
				return fmt.Errorf("staging %s: symlink to %s, not to nix", relSrc, target)
			}
			up, _ := filepath.Rel(filepath.Dir(dst), filepath.Join(bin, "nix"))
			return symlink(up, dst)
		case d.Type().IsRegular():
			elfFile, err := isELF(src)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("staging %s: %w", relSrc, err)
			}
			if err := copyFile(src, dst, canonicalPerm(fi.Mode())); err != nil {
				return err
			}
			if elfFile {
				executables = append(executables, dst)
			}
			return nil
		default:
			return fmt.Errorf("staging %s: unsupported file type", relSrc)
		}
	})
	if err != nil {
		return 0, err
	}

	libDir := filepath.Join(p.dir, "lib")
	interp, libs, err := copyLibClosure(c.root, c.target, executables, libDir)
	if err != nil {
		return 0, err
	}
	if err := patchNix(c, p, executables, libDir, interp, libs); err != nil {
		return 0, err
	}
	p.note = fmt.Sprintf("%d tools, %d libs", tools, len(libs))
	return len(libs), nil
}

// checkVersion makes sure the binary really is the version the package name
// claims; the manifest's nixVersion is what np shows and checks against.
func checkVersion(bin, version string) error {
	b, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("reading nix binary: %w", err)
	}
	if !bytes.Contains(b, []byte("\x00"+version+"\x00")) {
		return fmt.Errorf("checking nix binary: version string %q not found in %s", version, bin)
	}
	return nil
}

// copyLibClosure copies, under their DT_NEEDED names, every library
// reachable from the executables plus their ELF interpreter. It returns the
// interpreter's file name and the set of library names copied.
// dlopened are libraries Nix opens by name at run time rather than through
// DT_NEEDED: with its build sandbox on, Nix dlopens libnss_dns.so.2 (a
// stub since glibc 2.34, which has DNS built in) and warns "unable to load
// nss_dns backend" on every command where the host has none in its own
// library path (an image FROM scratch, Alpine, NixOS).
var dlopened = []string{"libnss_dns.so.2"}

func copyLibClosure(root string, t target, executables []string, libDir string) (string, map[string]*elfInfo, error) {
	libs := map[string]*elfInfo{}
	var queue []string
	interp := ""
	for _, x := range executables {
		info, err := readELF(x)
		if err != nil {
			return "", nil, err
		}
		if info.machine != t.machine {
			return "", nil, fmt.Errorf("staging %s: ELF machine %v, want %v", x, info.machine, t.machine)
		}
		if info.interp == "" {
			return "", nil, fmt.Errorf("staging %s: no ELF interpreter", x)
		}
		name := path.Base(info.interp)
		if interp != "" && interp != name {
			return "", nil, fmt.Errorf("staging %s: interpreter %s differs from %s", x, name, interp)
		}
		interp = name
		queue = append(queue, info.needed...)
	}
	// The interpreter is looked up like any library: the path in PT_INTERP
	// (/lib64/...) relies on usrmerge links that the staging root lacks.
	queue = append(queue, interp)
	queue = append(queue, dlopened...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := libs[name]; done {
			continue
		}
		if strings.Contains(name, "/") {
			return "", nil, fmt.Errorf("staging library %s: path-valued DT_NEEDED is not supported", name)
		}
		src, info, err := findLib(root, t, name)
		if err != nil {
			return "", nil, err
		}
		if info.soname != "" && info.soname != name {
			return "", nil, fmt.Errorf("staging library %s: file %s has SONAME %s", name, src, info.soname)
		}
		// Libraries are not executed, so they are stored read-only
		// without the execute bit, except the interpreter, which can be
		// run directly (ld.so --list) and must stay executable.
		perm := fs.FileMode(0o644)
		if name == interp {
			perm = 0o755
		}
		if err := copyFile(src, filepath.Join(libDir, name), perm); err != nil {
			return "", nil, err
		}
		libs[name] = info
		queue = append(queue, info.needed...)
	}
	return interp, libs, nil
}

// patchNix points executables at the store's interpreter and library
// directory, and gives libraries an $ORIGIN RUNPATH so their own
// dependencies resolve next to them rather than on the host.
func patchNix(c *config, p *storePath, executables []string, libDir, interp string, libs map[string]*elfInfo) error {
	interpPath := p.full() + "/lib/" + interp
	for _, x := range executables {
		rel, err := filepath.Rel(filepath.Dir(x), libDir)
		if err != nil {
			return fmt.Errorf("patching %s: %w", x, err)
		}
		rpath := "$ORIGIN/" + filepath.ToSlash(rel)
		if err := runPatchelf(c, "--set-interpreter", interpPath, "--set-rpath", rpath, x); err != nil {
			return err
		}
		info, err := readELF(x)
		if err != nil {
			return err
		}
		if info.interp != interpPath {
			return fmt.Errorf("patching %s: interpreter is %q after patchelf", x, info.interp)
		}
	}
	for _, name := range sortedLibNames(libs) {
		info := libs[name]
		// A library that needs nothing but the dynamic linker (libc.so.6
		// itself, for instance) has nothing to search for, and rewriting
		// glibc's own dynamic section only risks breaking it.
		needsSearch := false
		for _, n := range info.needed {
			if n != interp {
				needsSearch = true
			}
		}
		if name == interp || !needsSearch {
			continue
		}
		if err := runPatchelf(c, "--set-rpath", "$ORIGIN", filepath.Join(libDir, name)); err != nil {
			return err
		}
	}
	return nil
}

func sortedLibNames(libs map[string]*elfInfo) []string {
	names := make([]string, 0, len(libs))
	for n := range libs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func runPatchelf(c *config, args ...string) error {
	cmd := exec.Command(c.patchelf, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("running patchelf %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// stageBusybox builds the busybox store path: the static binary plus a
// relative symlink per applet, so the path's bin/ can serve as a complete
// /bin for builders and the installer.
func stageBusybox(c *config, p *storePath) error {
	rel, err := resolveIn(c.root, "usr/bin/busybox")
	if err != nil {
		return err
	}
	src := filepath.Join(c.root, rel)
	info, err := readELF(src)
	if err != nil {
		return err
	}
	if !info.static || len(info.needed) > 0 {
		return fmt.Errorf("staging busybox: %s is not statically linked", src)
	}
	if info.machine != c.target.machine {
		return fmt.Errorf("staging busybox: ELF machine %v, want %v", info.machine, c.target.machine)
	}
	// A busybox of another architecture cannot run here (no emulator is
	// assumed), so its applets are read from the name table in the
	// binary. A native one is also run: the binary is static, so that is
	// safe, and agreeing with its own --list checks the table reader on
	// every x86_64 build.
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("listing busybox applets: %w", err)
	}
	applets, err := appletNames(b)
	if err != nil {
		return fmt.Errorf("listing busybox applets of %s: %w", src, err)
	}
	if runtime.GOARCH == c.arch {
		out, err := exec.Command(src, "--list").Output()
		if err != nil {
			return fmt.Errorf("listing busybox applets: %w", err)
		}
		listed := strings.Fields(string(out))
		sort.Strings(listed)
		if strings.Join(listed, " ") != strings.Join(applets, " ") {
			return fmt.Errorf("listing busybox applets: the binary's name table (%d) differs from busybox --list (%d)", len(applets), len(listed))
		}
	}
	bin := filepath.Join(p.dir, "bin")
	if err := copyFile(src, filepath.Join(bin, "busybox"), 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range applets {
		if a == "busybox" || seen[a] {
			continue
		}
		if strings.ContainsAny(a, "/\x00") || a == "." || a == ".." {
			return fmt.Errorf("listing busybox applets: bad applet name %q", a)
		}
		seen[a] = true
	}
	if len(seen) == 0 {
		return fmt.Errorf("listing busybox applets: none")
	}
	for _, a := range sortedKeys(seen) {
		if err := symlink("busybox", filepath.Join(bin, a)); err != nil {
			return err
		}
	}
	p.note = fmt.Sprintf("%d applets", len(seen))
	return nil
}

// appletNames finds busybox's applet_names table in the binary: every
// applet's name, NUL-terminated, in strictly ascending order, starting
// with "[" and "[[" and closed by an empty name. Exactly one run of bytes
// may look like that; anything else is an error rather than a guess.
func appletNames(b []byte) ([]string, error) {
	start := []byte("[\x00[[\x00")
	var found [][]string
	for off := 0; ; {
		i := bytes.Index(b[off:], start)
		if i < 0 {
			break
		}
		i += off
		off = i + 1
		end := bytes.Index(b[i:], []byte("\x00\x00"))
		if end < 0 {
			continue
		}
		names := strings.Split(string(b[i:i+end]), "\x00")
		ok := len(names) > 2
		for k, n := range names {
			if !appletName(n) || k > 0 && names[k-1] >= n {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, names)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no applet name table found")
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d candidate applet name tables", len(found))
}

func appletName(n string) bool {
	if n == "" || n == "." || n == ".." {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("[_.-", r)) {
			return false
		}
	}
	return true
}

// stageCABundle concatenates ca-certificates' individual certificates in
// sorted order, which is what update-ca-certificates produces for the
// default (all enabled) configuration, without running any maintainer
// script.
func stageCABundle(c *config, p *storePath) error {
	base := filepath.Join(c.root, "usr/share/ca-certificates")
	var certs []string
	err := filepath.WalkDir(base, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walking ca-certificates: %w", err)
		}
		if d.Type().IsRegular() && strings.HasSuffix(f, ".crt") {
			rel, _ := filepath.Rel(base, f)
			certs = append(certs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(certs) == 0 {
		return fmt.Errorf("staging ca bundle: no certificates under %s", base)
	}
	sort.Strings(certs)
	var bundle bytes.Buffer
	for _, rel := range certs {
		b, err := os.ReadFile(filepath.Join(base, rel))
		if err != nil {
			return fmt.Errorf("staging ca bundle: %w", err)
		}
		if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return fmt.Errorf("staging ca bundle: %s is not a PEM certificate", rel)
		}
		bundle.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			bundle.WriteByte('\n')
		}
	}
	dst := filepath.Join(p.dir, caBundleRel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("staging ca bundle: %w", err)
	}
	if err := os.WriteFile(dst, bundle.Bytes(), 0o644); err != nil {
		return fmt.Errorf("staging ca bundle: %w", err)
	}
	p.note = fmt.Sprintf("%d certs", len(certs))
	return nil
}

// canonicalPerm maps a mode to what the staging tree keeps: Nix only
// records the owner-execute bit, so everything collapses to 0755 or 0644.
func canonicalPerm(m fs.FileMode) fs.FileMode {
	if m&0o100 != 0 {
		return 0o755
	}
	return 0o644
}

// copyTree copies the staged store (for -keep) preserving symlinks.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copying staged tree: %w", err)
		}
		rel, _ := filepath.Rel(src, f)
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("copying staged tree: %w", err)
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(f)
			if err != nil {
				return fmt.Errorf("copying staged tree: %w", err)
			}
			return symlink(t, out)
		default:
			fi, err := d.Info()
			if err != nil {
				return fmt.Errorf("copying staged tree: %w", err)
			}
			return copyFile(f, out, canonicalPerm(fi.Mode()))
		}
	})
}
