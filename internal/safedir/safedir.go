// Package safedir creates and checks np's own directories without ever
// following a symbolic link in them. Each component is made with mkdirat
// and opened with O_DIRECTORY|O_NOFOLLOW relative to its opened parent, so a
// link planted where np expects a directory (nix/var/np/tmp pointing at a
// user's files, gcroots/np pointing elsewhere) is refused instead of
// followed: np would otherwise empty, write into or delete from its target.
package safedir

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// LinkError: a component of one of np's directories is a symbolic link or
// not a directory at all.
type LinkError struct {
	Path string
	What string // "a symbolic link", "not a directory"
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is %s; np never follows links in its own directories: remove it (np recreates it)", e.Path, e.What)
}

// MkdirAll makes base/rel, creating missing components of rel with perm.
// base itself must exist and is opened as is (symlinks in it are the
// user's choice: a symlinked home); no component of rel may be a link.
func MkdirAll(base, rel string, perm uint32) error {
	fd, err := unix.Open(base, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: base, Err: err}
	}
	path := base
	for _, name := range strings.Split(rel, "/") {
		if name == "" || name == "." {
			continue
		}
		path += "/" + name
		next, err := MkdirAt(fd, name, path, perm)
		unix.Close(fd)
		if err != nil {
			return err
		}
		fd = next
	}
	unix.Close(fd)
	return nil
}

// MkdirAt makes directory name in the directory dirfd (named path, for
// errors) unless it exists, and opens it without following a link. The
// caller closes the returned descriptor.
func MkdirAt(dirfd int, name, path string, perm uint32) (int, error) {
	if err := unix.Mkdirat(dirfd, name, perm); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return OpenAt(dirfd, name, path)
}

// OpenAt opens the directory name in dirfd without following a link.
func OpenAt(dirfd int, name, path string) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, &LinkError{Path: path, What: "a symbolic link"}
	case errors.Is(err, unix.ENOTDIR):
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, &LinkError{Path: path, What: "a symbolic link"}
		}
		return -1, &LinkError{Path: path, What: "not a directory"}
	case err != nil:
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// PrivateError: a directory np runs programs from could be changed by
// someone other than its owner.
type PrivateError struct {
	Path   string
	Reason string
}

func (e *PrivateError) Error() string {
	return fmt.Sprintf("%s %s; np runs the programs kept there, so it refuses a directory someone else could change: chmod go-w it, or set NP_LOCATION to a directory of your own", e.Path, e.Reason)
}

// CheckPrivate refuses st (of path) unless it is a directory owned by uid
// and writable by nobody else.
func CheckPrivate(path string, st *unix.Stat_t, uid int) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return &LinkError{Path: path, What: "a symbolic link"}
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return &LinkError{Path: path, What: "not a directory"}
	case int(st.Uid) != uid:
		return &PrivateError{Path: path, Reason: fmt.Sprintf("belongs to uid %d, not to you (uid %d)", st.Uid, uid)}
	case st.Mode&0o002 != 0:
		return &PrivateError{Path: path, Reason: "is writable by everyone"}
	case st.Mode&0o020 != 0:
		return &PrivateError{Path: path, Reason: "is writable by its group"}
	}
	return nil
}

// CheckPrivatePath is CheckPrivate on path itself (not followed); a path
// that does not exist passes (np creates it later).
func CheckPrivatePath(path string, uid int) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return CheckPrivate(path, &st, uid)
}

// MkdirPrivate makes dir (0700 when new) in the existing directory parent,
// or opens it if it exists, and checks it with CheckPrivate through the
// opened descriptor: no window between the check and the use of a path.
// The caller closes the returned descriptor.
func MkdirPrivate(parentFD int, name, path string, perm uint32, uid int) (int, error) {
	fd, err := MkdirAt(parentFD, name, path, perm)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := CheckPrivate(path, &st, uid); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
