package extract

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/storepath"
)

// FileEntry is one regular file of the payload's store paths as installed:
// its path below the store, size and permission bits (Nix's mtime is
// always 1).
type FileEntry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
}

// LinkEntry is one symbolic link of the payload's store paths as
// installed: its path below the store and its target. Nix's own tools are
// mostly links (nix-hash, nix-store, ... point at nix).
type LinkEntry struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

// inventory is every entry of the payload's store paths below their top
// level, as the install wrote them.
type inventory struct {
	Files []FileEntry
	Links []LinkEntry
	Dirs  []string // paths below the store
}

// damage says what is wrong with the entries of inv below store, one item
// per entry; only those of the store path name when name is not "".
// Entries are looked up relative to the store's descriptor: a few path
// components each instead of the data dir's whole path, which halves the
// check's cost.
func (inv *inventory) damage(store, name string) []string {
	fd, err := unix.Open(store, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{StoreDir + " cannot be opened: " + err.Error()}
	}
	defer unix.Close(fd)
	mine := func(p string) bool { return name == "" || strings.HasPrefix(p, name+"/") }
	note := func(what *[]string, p, w string) {
		if w != "" {
			*what = append(*what, StoreDir+"/"+p+" "+w)
		}
	}
	// The links on a second thread: the check is one system call per
	// entry, and this halves its wall time where a second core is free.
	var links []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256)
		for _, l := range inv.Links {
			if mine(l.Path) {
				note(&links, l.Path, checkLink(fd, l, buf))
			}
		}
	}()
	var what []string
	for _, d := range inv.Dirs {
		if mine(d) {
			note(&what, d, checkDir(fd, d))
		}
	}
	for _, f := range inv.Files {
		if mine(f.Path) {
			note(&what, f.Path, checkFile(fd, f))
		}
	}
	<-done
	return append(what, links...)
}

// intact reports whether every recorded entry of the store path name is
// as installed.
func (inv *inventory) intact(store, name string) bool { return len(inv.damage(store, name)) == 0 }

// DamagedError: np's own store paths are not what the payload installed
// (a file deleted, truncated, rewritten or made writable). The fix is
// `np repair`, which restores them from the payload.
type DamagedError struct {
	NixDir string
	What   []string // what is wrong, one item per path or file
}

func (e *DamagedError) Error() string {
	what := strings.Join(e.What, "; ")
	if len(e.What) > 3 {
		what = strings.Join(e.What[:3], "; ") + fmt.Sprintf("; and %d more", len(e.What)-3)
	}
	return fmt.Sprintf("np's Nix in %s is damaged (%s); run `np repair`", e.NixDir, what)
}

// quickCheck is the damage check every run makes: one lstat per store path,
// per directory and per regular file of the payload and one readlink per
// symbolic link, compared with what the install recorded (type, size,
// permissions, Nix's mtime 1, link target). It catches deleted, truncated,
// replaced and touched entries in about a millisecond for np's ~500; a
// same-size rewrite that restores the mtime needs the full check
// (FullCheck, in np doctor and np repair).
func (t Target) quickCheck(s *state) error {
	var what []string
	for _, name := range s.Manifest.Names() {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(t.Store(), name), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			what = append(what, StoreDir+"/"+name+" is missing")
		}
	}
	inv := inventory{Files: s.Files, Links: s.Links, Dirs: s.Dirs}
	what = append(what, inv.damage(t.Store(), "")...)
	if len(what) > 0 {
		return &DamagedError{NixDir: t.NixDir, What: what}
	}
	return nil
}

// Check is the cheap damage check (see quickCheck) of the payload fp's
// install here; nil when it is intact or not installed.
func (t Target) Check(fp string) error {
	if s := t.readState(fp); s != nil {
		return t.quickCheck(s)
	}
	return nil
}

// lstatAt is lstat of the entry rel below the directory dirfd.
func lstatAt(dirfd int, rel string, st *unix.Stat_t) error {
	return unix.Fstatat(dirfd, rel, st, unix.AT_SYMLINK_NOFOLLOW)
}

// checkDir says what is wrong with the installed directory rel, or "".
func checkDir(store int, rel string) string {
	var st unix.Stat_t
	switch err := lstatAt(store, rel, &st); {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return "is missing"
	case err != nil:
		return "cannot be read: " + err.Error()
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "is not a directory"
	}
	return ""
}

// checkLink says what is wrong with the installed symbolic link l, or "".
// One readlink: it fails with EINVAL on anything but a link. buf is
// scratch space.
func checkLink(store int, l LinkEntry, buf []byte) string {
	if len(buf) <= len(l.Target) {
		buf = make([]byte, len(l.Target)+1) // one more: a longer target shows as different
	}
	n, err := unix.Readlinkat(store, l.Path, buf)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return "is missing"
	case errors.Is(err, unix.EINVAL):
		return "is not a symbolic link"
	case err != nil:
		return "cannot be read: " + err.Error()
	case string(buf[:n]) != l.Target:
		got := string(buf[:n])
		if n == len(buf) {
			got += "..."
		}
		return fmt.Sprintf("points at %q, not %q", got, l.Target)
	}
	return ""
}

// checkFile says what is wrong with the installed file f, or "".
func checkFile(store int, f FileEntry) string {
	var st unix.Stat_t
	switch err := lstatAt(store, f.Path, &st); {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return "is missing"
	case err != nil:
		return "cannot be read: " + err.Error()
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return "is not a regular file"
	case st.Size != f.Size:
		return fmt.Sprintf("has %d bytes, not %d", st.Size, f.Size)
	case st.Mode&0o7777 != f.Mode:
		return fmt.Sprintf("has mode %o, not %o", st.Mode&0o7777, f.Mode)
	case st.Mtim.Sec != 1:
		return "was modified"
	}
	return ""
}

// FullCheck compares the NAR hash of each of the payload's store paths,
// as installed here, with the manifest's: what Nix's --check-contents
// does, for np's own paths only. It reads every byte (about 50 MB).
func (t Target) FullCheck(fp string) error {
	s := t.readState(fp)
	if s == nil {
		return nil // nothing installed: nothing damaged
	}
	var what []string
	for _, pe := range s.Manifest.Paths {
		if !intact(filepath.Join(t.Store(), path.Base(pe.Path)), pe) {
			what = append(what, pe.Path+" differs from the payload")
		}
	}
	if len(what) > 0 {
		return &DamagedError{NixDir: t.NixDir, What: what}
	}
	return t.quickCheck(s)
}

// intact reports whether the store path at dir hashes to pe's NAR hash.
func intact(dir string, pe PathEntry) bool {
	if _, err := os.Lstat(dir); err != nil {
		return false
	}
	sum, _, err := storepath.NARHash(dir)
	return err == nil && hex.EncodeToString(sum[:]) == pe.NarHash
}
