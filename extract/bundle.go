package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/internal/symlink"
)

// A bundle (np bundle) is np's Go program with a payload of one program's
// closure instead of np's Nix. It installs into the same Nix directory as
// np, by the same safe install, and keeps its own record per fingerprint,
// so any number of bundles and np share one data dir.
//
// A bundle usually carries no Nix, so it cannot register its paths in Nix's
// database itself; Nix's garbage collector deletes unregistered store
// paths. It leaves its manifest in var/np/pending instead, and np (which
// has Nix) registers it before it runs anything (LoadPending).

// ErrNotBundle means the executable carries no bundle payload: it is np.
var ErrNotBundle = errors.New("not a bundle")

// BundleInfo says what a bundle was made of and which program it runs.
type BundleInfo struct {
	// Outputs are the store paths the bundle was made from; they are its
	// GC roots, the rest of the closure follows by reference.
	Outputs []string `json:"outputs"`
	// Program is the absolute path of the program the bundle runs.
	Program string `json:"program"`
	// Programs are the closure's programs in bin/ directories, the outputs'
	// first: a link to the bundle named after one of them runs that one.
	Programs []string `json:"programs"`
}

// check accepts only programs inside the payload's own store paths.
func (b *BundleInfo) check(known map[string]bool) error {
	for _, o := range b.Outputs {
		if !known[o] {
			return fmt.Errorf("payload manifest: bundle output %q is not one of its store paths", o)
		}
	}
	if len(b.Outputs) == 0 {
		return errors.New("payload manifest: the bundle has no outputs")
	}
	for _, p := range append([]string{b.Program}, b.Programs...) {
		if !known[StorePathOf(p)] || path.Clean(p) != p {
			return fmt.Errorf("payload manifest: bundle program %q is not inside one of its store paths", p)
		}
	}
	return nil
}

// StorePathOf returns the store path holding p (/nix/store/<hash>-<name>),
// or "" when p is not below the store.
func StorePathOf(p string) string {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return ""
	}
	base, _, _ := strings.Cut(rest, "/")
	if checkStorePath(StoreDir+"/"+base) != nil {
		return ""
	}
	return StoreDir + "/" + base
}

// ProgramFor picks the program a bundle invoked as name (its argv[0]'s
// base name) runs: the closure's program of that name, else the default.
func (b *BundleInfo) ProgramFor(name string) string {
	for _, p := range b.Programs {
		if path.Base(p) == name {
			return p
		}
	}
	return b.Program
}

// OpenBundle opens the bundle payload appended to the executable at exe;
// ErrNotBundle when it has none (it is np, with or without Nix).
func OpenBundle(exe string) (*Payload, error) { return openPayload(exe, true) }

// bundleRecord is written last by a complete bundle install.
func (t Target) bundleRecord(fp string) string {
	return filepath.Join(t.npDir(), "bundles", fp+".json")
}

// pendingDir holds the registrations bundles left for np to load.
func (t Target) pendingDir() string { return filepath.Join(t.npDir(), "pending") }

// BundleRootDir holds the GC roots of the bundle with fingerprint fp.
func (t Target) BundleRootDir(fp string) string {
	return filepath.Join(t.NixDir, "var", "nix", "gcroots", "np-bundles", fp)
}

// InstalledBundle returns the manifest of the finished install of bundle
// fp, or nil when there is none or one of its store paths has gone (a
// garbage collection, a user's rm): then it installs again. It reads one
// small file and stats each store path, never the payload.
func (t Target) InstalledBundle(fp string) *Manifest {
	data, err := os.ReadFile(t.bundleRecord(fp))
	if err != nil {
		return nil
	}
	var m Manifest
	if json.Unmarshal(data, &m) != nil || m.Bundle == nil {
		return nil
	}
	for _, name := range m.Names() {
		if _, err := os.Lstat(filepath.Join(t.Store(), name)); err != nil {
			logrus.Debugf("bundle %s: store path %s is missing; installing again", fp[:12], name)
			return nil
		}
	}
	return &m
}

// EnsureBundle makes sure bundle p is installed in t and returns its
// manifest; fresh reports whether this call installed it. It is Ensure's
// safe install (verified, staged, renamed, locked, synced, recorded last)
// with a bundle's bookkeeping: GC roots for its outputs and a pending
// registration np loads into Nix's database.
func (t Target) EnsureBundle(p *Payload, opts Options) (m *Manifest, fresh bool, err error) {
	fp := p.Trailer.Fingerprint()
	if m := t.InstalledBundle(fp); m != nil {
		return m, false, nil
	}
	unlock, err := t.beginInstall(opts)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if m := t.InstalledBundle(fp); m != nil {
		return m, false, nil
	}
	logrus.Debugf("installing bundle %s into %s", p.Trailer.Short(), t.NixDir)
	if m, _, err = t.install(p, opts); err != nil {
		return nil, false, err
	}
	if m.Bundle == nil {
		return nil, false, errors.New("installing bundle: its payload is np's, not a bundle's")
	}
	roots := t.BundleRootDir(fp)
	// np's own directories: never through a symlink someone planted.
	if err := t.mkdirs("var/nix/gcroots/np-bundles/"+fp, "var/np/pending", "var/np/bundles"); err != nil {
		return nil, false, err
	}
	for _, o := range m.Bundle.Outputs {
		if err := symlink.Replace(o, filepath.Join(roots, path.Base(o))); err != nil {
			return nil, false, fmt.Errorf("creating GC root: %w", err)
		}
	}
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, false, fmt.Errorf("encoding bundle manifest: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(t.pendingDir(), fp+".json"), data, 0o644); err != nil {
		return nil, false, err
	}
	if opts.Finish != nil {
		if err := opts.Finish(m); err != nil {
			return nil, false, err
		}
	}
	if err := syncFS(t.Store()); err != nil {
		return nil, false, err
	}
	if err := WriteFileAtomic(t.bundleRecord(fp), data, 0o644); err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// HasPending says whether bundles left registrations for np to load (one
// open of the pending directory, which usually does not exist).
func (t Target) HasPending() bool {
	names, _ := os.ReadDir(t.pendingDir())
	return len(names) > 0
}

// LoadPending hands each registration bundles left in t to load, under the
// install lock, and removes the ones load accepted. A registration some of
// whose store paths are missing is left alone: registering paths that are
// not there would corrupt Nix's database, and the bundle installs them
// again on its next run. With nothing pending it costs one directory read.
func (t Target) LoadPending(load func(m *Manifest) error) error {
	if !t.HasPending() {
		return nil
	}
	unlock, err := lockFile(filepath.Join(t.npDir(), "lock"), Options{})
	if err != nil {
		return err
	}
	defer unlock()
	entries, err := os.ReadDir(t.pendingDir())
	if err != nil {
		return fmt.Errorf("listing pending registrations: %w", err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(t.pendingDir(), e.Name()))
		}
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("reading pending registration: %w", err)
		}
		m, err := parseManifest(data)
		if err != nil {
			return fmt.Errorf("reading pending registration %s: %w; remove it and run the bundle again", f, err)
		}
		if !t.allPresent(m) {
			logrus.Debugf("pending registration %s: some store paths are missing; leaving it", filepath.Base(f))
			continue
		}
		if err := load(m); err != nil {
			return fmt.Errorf("registering the store paths of bundle %s: %w", strings.TrimSuffix(filepath.Base(f), ".json")[:12], err)
		}
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing pending registration: %w", err)
		}
	}
	return nil
}

func (t Target) allPresent(m *Manifest) bool {
	for _, name := range m.Names() {
		if _, err := os.Lstat(filepath.Join(t.Store(), name)); err != nil {
			return false
		}
	}
	return true
}

// Subset is the manifest restricted to the store paths in keep, for
// registering only those Nix does not know yet.
func (m *Manifest) Subset(keep map[string]bool) *Manifest {
	out := *m
	out.Paths = nil
	for _, p := range m.Paths {
		if keep[p.Path] {
			out.Paths = append(out.Paths, p)
		}
	}
	return &out
}

// ReadManifest reads the manifest at the head of p's archive without
// unpacking or verifying the rest: for describing a bundle (--np-help) and
// sizing an install, never for installing it.
func ReadManifest(p *Payload) (*Manifest, error) { return peekManifest(p) }
