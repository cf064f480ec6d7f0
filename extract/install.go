package extract

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/plainfile"
	"github.com/np-portable/np/internal/safedir"
	"github.com/np-portable/np/internal/symlink"
)

// Payload is the archive carried by a binary.
type Payload struct {
	File    *os.File
	Trailer Trailer
}

// OpenPayload opens np's Nix payload appended to the executable at exe. A
// bundle's payload is not one (see OpenBundle).
func OpenPayload(exe string) (*Payload, error) {
	return openPayload(exe, false)
}

func openPayload(exe string, bundle bool) (*Payload, error) {
	f, err := plainfile.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("opening own executable: %w", err)
	}
	t, err := ReadTrailer(f)
	if err == nil && t.Bundle != bundle {
		err = ErrNoPayload
	}
	if err != nil {
		f.Close()
		if bundle && errors.Is(err, ErrNoPayload) {
			return nil, ErrNotBundle
		}
		return nil, err
	}
	return &Payload{File: f, Trailer: t}, nil
}

// Close releases the executable.
func (p *Payload) Close() error { return p.File.Close() }

// Target is a Nix directory: the host directory that appears at /nix (the data
// dir's nix/, or the host's own /nix for the native runtime).
type Target struct {
	NixDir string
}

// Store is the host path of /nix/store.
func (t Target) Store() string { return filepath.Join(t.NixDir, "store") }

// npDir holds np's own bookkeeping next to Nix's (var/nix).
func (t Target) npDir() string { return filepath.Join(t.NixDir, "var", "np") }

// Installs and GC roots are kept per payload fingerprint: two np versions
// sharing one data dir each find their own install (no reinstall on every
// switch), and a garbage collection run by one never deletes the other's
// Nix. Store paths are named after their content (assets/mkpayload), so
// two payloads share a store path only when it is the same.

// StateFile records the finished install of the payload fp; it is written
// last.
func (t Target) StateFile(fp string) string {
	return filepath.Join(t.npDir(), "installs", fp+".json")
}

// legacyStateFile is where np before per-payload records kept its one
// install record.
func (t Target) legacyStateFile() string { return filepath.Join(t.npDir(), "installed.json") }

// GCRootDir holds the roots that keep np's own Nix alive across garbage
// collection: one directory per payload fingerprint.
func (t Target) GCRootDir() string { return filepath.Join(t.NixDir, "var", "nix", "gcroots", "np") }

// gcRootDirOf holds the roots of the payload fp.
func (t Target) gcRootDirOf(fp string) string { return filepath.Join(t.GCRootDir(), fp) }

type state struct {
	Fingerprint string    `json:"fingerprint"`
	Manifest    *Manifest `json:"manifest"`
	// Files, Links and Dirs list every entry of the payload's store paths
	// below their top level, for the cheap damage check each run makes
	// (see quickCheck). Records written before Links and Dirs existed
	// leave them empty: their check covers the regular files only.
	Files []FileEntry `json:"files,omitempty"`
	Links []LinkEntry `json:"links,omitempty"`
	Dirs  []string    `json:"dirs,omitempty"`
}

// Installed returns the manifest of the finished install of the payload with
// fingerprint fp, or nil when there is none. It reads one small file, so it is
// what every run after the first costs.
func (t Target) Installed(fp string) *Manifest {
	if s := t.readStamp(fp); s != nil {
		return s.manifest // one small file instead of the whole record
	}
	if s := t.readState(fp); s != nil {
		return s.Manifest
	}
	return nil
}

// readState reads the install record of the payload fp, or nil.
func (t Target) readState(fp string) *state {
	data, err := os.ReadFile(t.StateFile(fp))
	if err != nil {
		if data, err = os.ReadFile(t.legacyStateFile()); err != nil {
			return nil
		}
	}
	var s state
	if json.Unmarshal(data, &s) != nil || s.Fingerprint != fp || s.Manifest == nil {
		return nil
	}
	return &s
}

// Options tune Ensure.
type Options struct {
	// Check runs when an install is needed, before anything is written:
	// a runtime that cannot work here fails then, not after unpacking.
	Check func() error
	// Progress receives a progress bar while extracting; nil is quiet.
	Progress io.Writer
	// Finish runs once the store paths are in place and before the install
	// is recorded as complete: registration in Nix's database, probes,
	// configuration. If it fails, the next run installs again.
	Finish func(m *Manifest) error
	// Repair installs even when the payload is recorded as installed, and
	// replaces each of its store paths whose content differs from the
	// payload's (checked by NAR hash) or that is missing. Other store
	// paths (the user's) are never touched.
	Repair bool
	// What is installed, for the user's messages; "" is Nix.
	What string
	// Interrupted, if set, is called as each step of the install begins
	// and between its units of work, with the step's name; an error
	// (np was told to stop) ends the install there, recording nothing.
	Interrupted func(step string) error
}

// at enters an install step: see Options.Interrupted.
func (o Options) at(step string) error {
	if o.Interrupted == nil {
		return nil
	}
	return o.Interrupted(step)
}

func (o Options) what() string {
	if o.What == "" {
		return "Nix"
	}
	return o.What
}

// Ensure makes sure the payload is installed in t and returns its manifest.
// fresh reports whether this call did the install. Concurrent callers are
// serialised by a lock; the loser waits and then uses the finished install.
func (t Target) Ensure(p *Payload, opts Options) (m *Manifest, fresh bool, err error) {
	fp := p.Trailer.Fingerprint()
	if !opts.Repair {
		// The stamp first: a handful of lstat calls when nothing changed
		// (see stamp.go); the full walk only when something did.
		if m := t.stamped(fp); m != nil {
			return m, false, nil
		}
		if s := t.readState(fp); s != nil {
			logrus.Tracef("install: %s holds payload %s already; its stamp is missing or changed", t.NixDir, p.Trailer.Short())
			if err := t.quickCheck(s); err != nil {
				return nil, false, err
			}
			t.recordStamp(fp, s)
			return s.Manifest, false, nil
		}
	}
	// Before anything is written, even the data dir: a path too long
	// for np's own files would otherwise fail after unpacking 50 MB.
	pm, err := peekManifest(p)
	if err != nil {
		return nil, false, err
	}
	if err := t.checkPathRoom(pm, fp); err != nil {
		return nil, false, err
	}
	unlock, err := t.beginInstall(opts)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Another np may have finished the install while this one waited.
	if m := t.Installed(fp); m != nil && !opts.Repair {
		return m, false, nil
	}
	if err := t.checkSpace(pm); err != nil && !opts.Repair {
		return nil, false, err
	}
	logrus.Debugf("installing payload %s into %s", p.Trailer.Short(), t.NixDir)
	m, inv, err := t.install(p, opts)
	if err != nil {
		return nil, false, err
	}
	if err := opts.at("writing np's GC roots"); err != nil {
		return nil, false, err
	}
	if err := t.writeGCRoots(fp, m); err != nil {
		return nil, false, err
	}
	if opts.Finish != nil {
		if err := opts.Finish(m); err != nil {
			return nil, false, err
		}
	}
	// The record of a complete install must not reach the disk before the
	// store it describes (a power cut would leave it pointing at holes).
	if err := syncFS(t.Store()); err != nil {
		return nil, false, err
	}
	data, err := json.MarshalIndent(state{Fingerprint: fp, Manifest: m, Files: inv.Files, Links: inv.Links, Dirs: inv.Dirs}, "", " ")
	if err != nil {
		return nil, false, fmt.Errorf("encoding install state: %w", err)
	}
	if err := t.mkdirs("var/np/installs"); err != nil {
		return nil, false, err
	}
	if err := opts.at("recording the install"); err != nil {
		return nil, false, err
	}
	if err := WriteFileAtomic(t.StateFile(fp), data, 0o644); err != nil {
		return nil, false, err
	}
	t.recordStamp(fp, &state{Fingerprint: fp, Manifest: m, Files: inv.Files, Links: inv.Links, Dirs: inv.Dirs})
	return m, true, nil
}

// mkdirs creates directories of np's below NixDir (NixDir included) without
// following a symbolic link anywhere in them: a link planted at
// var/np/tmp would have np empty its target, one at gcroots/np would have
// np write into and delete from it.
func (t Target) mkdirs(rels ...string) error {
	for _, rel := range rels {
		if err := safedir.MkdirAll(filepath.Dir(t.NixDir), filepath.Base(t.NixDir)+"/"+rel, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Join(t.NixDir, rel), err)
		}
	}
	return nil
}

// syncFS flushes the file system holding dir.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// beginInstall is the start of every install: the caller's check that a
// runtime works here (before anything is written), np's directory, and the
// install lock, which it returns the release of.
func (t Target) beginInstall(opts Options) (func(), error) {
	if opts.Check != nil {
		if err := opts.Check(); err != nil {
			return nil, err
		}
	}
	if err := t.mkdirs("var/np"); err != nil {
		return nil, err
	}
	return lockFile(filepath.Join(t.npDir(), "lock"), opts)
}

// lockFile takes an exclusive flock, telling the user when it has to wait.
func lockFile(name string, opts Options) (func(), error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening install lock %s: %w", name, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		if opts.Progress != nil {
			// From the line's start: the install step np shows there
			// (cmd/np/stepline.go) is replaced, not continued.
			fmt.Fprintf(opts.Progress, "\r\033[Knp: another np is installing %s here; waiting for it\n", opts.what())
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
	}
	if errors.Is(err, unix.ENOLCK) {
		// NFS whose lock manager cannot be reached: Nix's own locks would
		// fail the same way, so no install can work here.
		f.Close()
		return nil, fmt.Errorf("locking %s: %w: this file system gives no file locks, which Nix needs; ask the admin to fix NFS locking (lockd, rpc.statd) or set NP_LOCATION to a local disk", name, err)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

// install extracts the payload into a staging directory on the same file
// system as the store, checks it against the manifest and the trailer's
// checksum, and only then renames each store path into place: a store path
// that exists is always complete.
func (t Target) install(p *Payload, opts Options) (*Manifest, *inventory, error) {
	if err := t.mkdirs("store", "var/np/tmp"); err != nil {
		return nil, nil, err
	}
	// Under the lock no other install is running: whatever staging trees
	// are left were abandoned by an np that was killed mid-install.
	tmpDir := filepath.Join(t.npDir(), "tmp")
	if stale, err := os.ReadDir(tmpDir); err == nil {
		for _, e := range stale {
			RemoveTree(filepath.Join(tmpDir, e.Name()))
		}
	}
	staging, err := os.MkdirTemp(tmpDir, "install-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating staging directory: %w", err)
	}
	defer RemoveTree(staging)

	m, inv, err := unpack(p, staging, opts)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]PathEntry{}
	for _, pe := range m.Paths {
		want[path.Base(pe.Path)] = pe
	}
	for _, name := range m.Names() {
		if err := opts.at("moving " + opts.what() + " into the store"); err != nil {
			return nil, nil, err
		}
		src := filepath.Join(staging, "store", name)
		dst := filepath.Join(t.Store(), name)
		if _, err := os.Lstat(dst); err == nil {
			// Same name means same content: payload store paths are named
			// after their content, and paths only ever appear by rename.
			// Unless it was damaged since: a repair checks.
			if !opts.Repair || intact(dst, want[name]) && inv.intact(t.Store(), name) {
				continue
			}
			logrus.Infof("repairing %s", dst)
			RemoveTree(dst)
		}
		// seal left src writable: moving a directory to another parent
		// needs write permission on it (its ".." changes).
		if err := os.Rename(src, dst); err != nil {
			return nil, nil, fmt.Errorf("moving %s into the store: %w", name, err)
		}
		if err := os.Chmod(dst, 0o555); err != nil {
			return nil, nil, fmt.Errorf("sealing %s: %w", dst, err)
		}
	}
	return m, inv, nil
}

// writeGCRoots points one root at each path of the payload fp, in a
// directory of its own: the roots of other payloads (other np versions
// sharing this data dir) are left alone.
func (t Target) writeGCRoots(fp string, m *Manifest) error {
	if err := t.mkdirs("var/nix/gcroots/np/" + fp); err != nil {
		return err
	}
	for _, name := range m.Names() {
		if err := symlink.Replace(StoreDir+"/"+name, filepath.Join(t.gcRootDirOf(fp), name)); err != nil {
			return fmt.Errorf("creating GC root: %w", err)
		}
	}
	return nil
}

// verify checks the payload against the checksum in the trailer before a
// single byte of it is unpacked.
func verify(p *Payload) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(p.File, p.Trailer.Offset, p.Trailer.Length)); err != nil {
		return fmt.Errorf("reading payload: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.Trailer.Fingerprint() {
		return fmt.Errorf("payload checksum mismatch (got %s, want %s): the binary is corrupt; rebuild or re-download np", got[:12], p.Trailer.Short())
	}
	return nil
}

// unpack checks the compressed archive and streams it into dir, returning
// the checked manifest.
func unpack(p *Payload, dir string, opts Options) (*Manifest, *inventory, error) {
	if err := opts.at("checking " + opts.what() + "'s checksum"); err != nil {
		return nil, nil, err
	}
	if err := verify(p); err != nil {
		return nil, nil, err
	}
	var r io.Reader = io.NewSectionReader(p.File, p.Trailer.Offset, p.Trailer.Length)
	if opts.Progress != nil {
		doing := "installing " + opts.what() + " (first run)"
		if opts.Repair {
			doing = "repairing " + opts.what()
		}
		bar := newProgressBar(opts.Progress, doing, p.Trailer.Length)
		defer bar.done()
		r = io.TeeReader(r, bar)
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, nil, fmt.Errorf("reading payload: %w", err)
	}
	defer zr.Close()

	var m *Manifest
	x := newExtractor(dir)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading payload archive: %w (corrupt binary; rebuild or re-download np)", err)
		}
		if h.Name == "manifest.json" {
			data, err := io.ReadAll(io.LimitReader(tr, 16<<20))
			if err != nil {
				return nil, nil, fmt.Errorf("reading payload manifest: %w", err)
			}
			if m, err = parseManifest(data); err != nil {
				return nil, nil, err
			}
			if (m.Bundle != nil) != p.Trailer.Bundle {
				return nil, nil, errors.New("payload manifest does not match its trailer (a bundle's manifest in np's payload or the reverse): the binary is corrupt")
			}
			continue
		}
		if err := x.add(h, tr); err != nil {
			return nil, nil, err
		}
		if err := opts.at("unpacking " + opts.what()); err != nil {
			return nil, nil, err
		}
	}
	if m == nil {
		return nil, nil, errors.New("payload has no manifest: the binary is corrupt; rebuild or re-download np")
	}
	listed := map[string]bool{}
	for _, name := range m.Names() {
		listed[name] = true
		if !x.dirs["store/"+name] {
			return nil, nil, fmt.Errorf("payload lacks store path %s listed in its manifest", name)
		}
	}
	for _, name := range x.topLevel {
		if !listed[name] {
			return nil, nil, fmt.Errorf("payload holds store path %s that its manifest does not list", name)
		}
	}
	if err := x.seal(); err != nil {
		return nil, nil, err
	}
	return m, &x.inv, nil
}

// extractor writes archive entries below root without ever following a
// symlink: every parent of an entry must be a directory it created itself.
type extractor struct {
	root     string
	dirs     map[string]bool // archive-relative directories created so far
	order    []string        // in creation order, to seal them read-only afterwards
	topLevel []string        // names of the store paths, in archive order
	times    []string        // every entry, to set Nix's canonical mtime
	inv      inventory       // every entry below a store path's top, for the damage check
}

func newExtractor(root string) *extractor {
	return &extractor{root: root, dirs: map[string]bool{".": true}}
}

func (x *extractor) add(h *tar.Header, r io.Reader) error {
	name := path.Clean(h.Name)
	if name == "store" && h.Typeflag == tar.TypeDir {
		return x.mkdirs(name)
	}
	if !strings.HasPrefix(name, "store/") || !filepath.IsLocal(name) {
		return fmt.Errorf("payload entry %q is outside store/; refusing it", h.Name)
	}
	if err := x.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	full := filepath.Join(x.root, name)
	switch h.Typeflag {
	case tar.TypeDir:
		return x.mkdirs(name)
	case tar.TypeReg:
		mode := os.FileMode(0o444)
		if h.Mode&0o111 != 0 {
			mode = 0o555
		}
		f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return fmt.Errorf("extracting %s: %w", name, err)
		}
		if err := f.Chmod(mode); err != nil {
			f.Close()
			return fmt.Errorf("extracting %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
		x.inv.Files = append(x.inv.Files, FileEntry{Path: strings.TrimPrefix(name, "store/"), Size: h.Size, Mode: uint32(mode)})
	case tar.TypeSymlink:
		if err := os.Symlink(h.Linkname, full); err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
		x.inv.Links = append(x.inv.Links, LinkEntry{Path: strings.TrimPrefix(name, "store/"), Target: h.Linkname})
	default:
		return fmt.Errorf("payload entry %q has unsupported type %q", h.Name, h.Typeflag)
	}
	x.times = append(x.times, full)
	return nil
}

// mkdirs creates dir and its missing parents; an existing parent that this
// extractor did not create (a symlink from the archive) is an error.
func (x *extractor) mkdirs(dir string) error {
	if x.dirs[dir] {
		return nil
	}
	if err := x.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	full := filepath.Join(x.root, dir)
	if err := os.Mkdir(full, 0o755); err != nil {
		return fmt.Errorf("extracting %s: %w", dir, err)
	}
	x.dirs[dir] = true
	x.order = append(x.order, full)
	switch {
	case path.Dir(dir) == "store":
		x.topLevel = append(x.topLevel, path.Base(dir)) // checked by name already
	case dir != "store":
		x.inv.Dirs = append(x.inv.Dirs, strings.TrimPrefix(dir, "store/"))
	}
	return nil
}

// seal gives the tree Nix's canonical metadata: mtime 1, directories
// read-only.
func (x *extractor) seal() error {
	one := []unix.Timespec{{Sec: 1}, {Sec: 1}}
	for _, p := range append(x.times, x.order...) {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, one, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting mtime of %s: %w", p, err)
		}
	}
	store := filepath.Join(x.root, "store")
	for _, d := range x.order {
		if d == store || filepath.Dir(d) == store {
			continue // top-level paths are sealed after the rename
		}
		if err := os.Chmod(d, 0o555); err != nil {
			return fmt.Errorf("sealing %s: %w", d, err)
		}
	}
	return nil
}

// RemoveTree deletes a tree that may contain read-only directories, such
// as a store.
func RemoveTree(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// WriteFileAtomic writes data to name through a temporary file and a rename,
// so readers see either the old or the new content, never a partial file.
func WriteFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// progressBar draws "np: installing Nix (first run) [###...]  42%" on a
// terminal ("np: repairing Nix [...]" for np repair).
type progressBar struct {
	w     io.Writer
	doing string
	total int64
	n     int64
	last  time.Time
}

func newProgressBar(w io.Writer, doing string, total int64) *progressBar {
	return &progressBar{w: w, doing: doing, total: total}
}

func (b *progressBar) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if now := time.Now(); now.Sub(b.last) > 100*time.Millisecond {
		b.last = now
		pct := int64(100)
		if b.total > 0 {
			pct = b.n * 100 / b.total
		}
		const width = 30
		fill := int(pct * width / 100)
		fmt.Fprintf(b.w, "\rnp: %s [%s%s] %3d%%", b.doing, strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct)
	}
	return len(p), nil
}

func (b *progressBar) done() { fmt.Fprint(b.w, "\r\033[K") }
