package execplan

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The kernel names a process (its comm: what ps, top, pgrep and pkill
// match) after the last component of the path execve was given. When the
// tracer runs a program through its loader ("ld.so --argv0 ..."), or a
// script through its interpreter, the path it gives execve is the loader's
// or the interpreter's, and every store program would be called
// "ld-linux-x86-64". So the tracer execs it through a symlink that bears
// the name the program was exec'd by: <nixDir>/var/np/exec/<hash of the
// target>/<name> -> target. The links are made once, shared by every run
// (one per program name and target), and made again if removed.

// Links makes and finds those links. Only the tracer goroutine uses it.
type Links struct {
	Dir string // <nixDir>/var/np/exec
}

// named returns a path whose last component is name and which execve
// follows to target; ok is false where none can be made (the caller then
// uses target itself: only the name differs).
func (l *Links) Named(target, name string) (link string, ok bool) {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return "", false
	}
	sum := sha256.Sum256([]byte(target))
	sub := filepath.Join(l.Dir, hex.EncodeToString(sum[:8]))
	link = sub + "/" + name
	var st unix.Stat_t
	if unix.Lstat(link, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return link, true
	}
	if err := os.MkdirAll(sub, 0o755); err != nil || !realDir(l.Dir) || !realDir(sub) {
		return "", false // never make links where a symlink np did not make leads
	}
	// Made aside and renamed into place: runs making the same link at
	// once all succeed, and none ever sees a half-made one.
	tmp := sub + "/.tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(uint64(len(name)), 10)
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return "", false
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", false
	}
	return link, true
}

// realDir says whether path is a directory, not a symlink to one.
func realDir(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}
