package extract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// What np can see before an install that would make it fail: a data dir
// that cannot be created, a path too long for np's own files below it, a
// file system mounted noexec or without the room. np doctor reports these
// as unusable (exit 1); the install refuses them before unpacking.

// UnusableError: np cannot install into this Nix directory, for a reason
// found before anything was written. Its message is one line naming the fix.
type UnusableError struct{ Msg string }

func (e *UnusableError) Error() string { return e.Msg }

// maxPath is the longest path Linux accepts (PATH_MAX counts the NUL).
const maxPath = unix.PathMax - 1

// entryRoom is room for an entry's path below its store path. The
// payload's deepest is 68 bytes (share/man/man1/…); Nix's own paths
// below /nix (var/log/nix/drvs/…, var/nix/gcroots/auto/…) stay shorter.
const entryRoom = 128

// longestOwnPath is the length of the longest path np itself creates below
// the Nix directory t for the manifest m: an entry in the staging tree, or
// the temporary link of a GC root (see writeGCRoots).
func (t Target) longestOwnPath(m *Manifest, fp string) int {
	longest := 0
	for _, name := range m.Names() {
		staging := len(filepath.Join(t.npDir(), "tmp", "install-1234567890", "store", name)) + 1 + entryRoom
		root := len(filepath.Join(t.gcRootDirOf(fp), name)) + len(".tmp-1234567")
		longest = max(longest, staging, root)
	}
	return longest
}

// checkPathRoom refuses a Nix directory whose path leaves no room for
// np's own files: with a very long NP_LOCATION, the install used to fail
// after unpacking 50 MB (`creating GC root: symlink …: file name too long`).
func (t Target) checkPathRoom(m *Manifest, fp string) error {
	if n := t.longestOwnPath(m, fp); n > maxPath {
		return &UnusableError{fmt.Sprintf("the data dir's path is too long: np's own files in %s (%d characters) would need paths of %d characters, and Linux allows %d; set NP_LOCATION to a path at least %d characters shorter",
			abbreviate(t.NixDir), len(t.NixDir), n, maxPath, n-maxPath)}
	}
	for _, c := range strings.Split(t.NixDir, "/") {
		if len(c) > unix.NAME_MAX {
			return &UnusableError{fmt.Sprintf("the data dir's path %s has a component of %d characters, and Linux allows %d; set NP_LOCATION to another directory",
				abbreviate(t.NixDir), len(c), unix.NAME_MAX)}
		}
	}
	return nil
}

// abbreviate shortens a path for a one-line message.
func abbreviate(p string) string {
	if len(p) <= 80 {
		return p
	}
	return p[:40] + "…" + p[len(p)-30:]
}

// nearestExisting is dir or its nearest parent that exists.
func nearestExisting(dir string) string {
	for {
		if _, err := os.Lstat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// checkCreatable refuses a Nix directory that cannot be created: its
// nearest existing parent is not a directory this user may write into
// (a read-only HOME, a file system mounted read-only).
func (t Target) checkCreatable() error {
	if _, err := os.Stat(t.NixDir); err == nil {
		return nil // exists: the data dir's own checks decide
	}
	parent := nearestExisting(t.NixDir)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return &UnusableError{fmt.Sprintf("cannot create np's data dir in %s: it is not a directory; set NP_LOCATION to a writable directory", parent)}
	}
	switch err := unix.Access(parent, unix.W_OK|unix.X_OK); {
	case errors.Is(err, unix.EROFS):
		return &UnusableError{fmt.Sprintf("cannot create np's data dir in %s: the file system is read-only; set NP_LOCATION to a writable directory", parent)}
	case err != nil:
		return &UnusableError{fmt.Sprintf("cannot create np's data dir in %s: %v; set NP_LOCATION to a writable directory", parent, err)}
	}
	return nil
}

// checkExec refuses a Nix directory on a file system mounted noexec:
// every program of np's Nix would fail there with 126.
func (t Target) checkExec() error {
	dir := nearestExisting(t.NixDir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Flags&unix.ST_NOEXEC != 0 {
		return &UnusableError{fmt.Sprintf("%s is on a file system mounted noexec, where np's Nix cannot run; set NP_LOCATION to a directory on another file system", dir)}
	}
	return nil
}

// Preflight says why installing the payload p into t would fail, as far
// as np can tell without writing anything (nil when it sees no reason):
// np doctor's verdict on a data dir not installed yet.
func (t Target) Preflight(p *Payload) error {
	m, err := peekManifest(p)
	if err != nil {
		return err
	}
	if err := t.checkPathRoom(m, p.Trailer.Fingerprint()); err != nil {
		return err
	}
	if err := t.checkCreatable(); err != nil {
		return err
	}
	if err := t.checkExec(); err != nil {
		return err
	}
	return t.checkSpace(m)
}
