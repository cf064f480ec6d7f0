package nsbox

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// openCallerCwd keeps a reference to the directory the init was started
// in, which is the caller's (np passes its own cwd on): an O_PATH
// descriptor stays usable across the pivots and the lazy unmount of the
// host's root, so it reaches even a directory that has no name any more.
// It must be called before the set-up changes directory.
func openCallerCwd() (int, error) {
	return unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// enterWorkDir makes the caller's working directory the current one. dir
// is its name as np's getcwd gave it, "" when it has none (getcwd fails in
// a deleted directory); callerCwd is the descriptor openCallerCwd
// returned. It returns whether dir was entered by name (then PWD may say
// so).
//
//   - dir leads to a directory: enter it by name, so getcwd inside gives
//     the same path. Only under /nix can the same name lead to another
//     directory than on the host (np's /nix hides the host's): that is
//     refused rather than run in a different directory of the same name.
//   - dir is "" or leads nowhere (deleted, renamed meanwhile, a parent no
//     longer searchable): enter the caller's directory through the
//     descriptor, as the caller's own shell is still in it; programs then
//     see what they would see without np (in a deleted directory getcwd
//     fails and creating files fails with ENOENT).
//   - Never a substitute such as $HOME: if neither works, it fails.
func enterWorkDir(dir string, callerCwd int) (named bool, err error) {
	if dir != "" && unix.Chdir(dir) == nil {
		if dir == "/nix" || strings.HasPrefix(dir, "/nix/") {
			same, err := sameDir(callerCwd)
			if err != nil {
				return false, &WorkDirError{Dir: dir, Reason: err.Error()}
			}
			if !same {
				return false, &WorkDirError{Dir: dir, Reason: "np's /nix hides the host's /nix there"}
			}
		}
		return true, nil
	}
	if callerCwd < 0 {
		return false, &WorkDirError{Dir: dir, Reason: "it cannot be reached"}
	}
	if err := unix.Fchdir(callerCwd); err != nil {
		return false, &WorkDirError{Dir: dir, Reason: fmt.Sprintf("fchdir: %v", err)}
	}
	return false, nil
}

// sameDir reports whether the current directory is the one fd refers to.
func sameDir(fd int) (bool, error) {
	if fd < 0 {
		return false, fmt.Errorf("the caller's directory cannot be reached")
	}
	var here, there unix.Stat_t
	if err := unix.Stat(".", &here); err != nil {
		return false, fmt.Errorf("stat: %w", err)
	}
	if err := unix.Fstat(fd, &there); err != nil {
		return false, fmt.Errorf("fstat: %w", err)
	}
	return here.Dev == there.Dev && here.Ino == there.Ino, nil
}
