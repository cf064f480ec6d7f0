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

	"github.com/np-portable/np/assets/storepath"
)

// FileEntry is one regular file of the payload's store paths as installed:
// its path below the store, size and permission bits (Nix's mtime is
// always 1).
type FileEntry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Mode uint32 `json:"mode"`
}

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

// quickCheck is the damage check every run makes: one lstat per store path
// and per regular file of the payload, compared with what the install
// recorded (type, size, permissions, Nix's mtime 1). It catches deleted,
// truncated, replaced and touched files for well under a millisecond; a
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
	for _, f := range s.Files {
		if w := checkFile(filepath.Join(t.Store(), f.Path), f); w != "" {
			what = append(what, StoreDir+"/"+f.Path+" "+w)
		}
	}
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

// filesIntact runs checkFile on every recorded file of the store path name.
func filesIntact(store, name string, files []FileEntry) bool {
	for _, f := range files {
		if strings.HasPrefix(f.Path, name+"/") && checkFile(filepath.Join(store, f.Path), f) != "" {
			return false
		}
	}
	return true
}

// checkFile says what is wrong with the installed file p, or "".
func checkFile(p string, f FileEntry) string {
	var st unix.Stat_t
	switch err := unix.Lstat(p, &st); {
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
