package proc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/plainfile"
)

// InheritedFDs lists the descriptors >= 3 that this process was started
// with and that are not close-on-exec: the ones its caller passed on purpose
// (`np run prog 3<file`, a make jobserver). Everything np opens itself is
// close-on-exec (Go opens with O_CLOEXEC), so these are exactly the fds
// that must reach the program for np to be transparent.
func InheritedFDs() []int {
	d, err := plainfile.Open("/proc/self/fd")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var fds []int
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 3 || fd == int(d.Fd()) {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	return fds
}

// CloseExtraFDs marks every file descriptor >= 3 except keep close-on-exec,
// so only stdin, stdout, stderr and the fds the caller passed on purpose
// reach the program exec'd next. Descriptors stay usable until then (a
// status pipe that must close at exec, the Go runtime's own epoll and pipe
// fds).
//
// It uses close_range(2) with CLOSE_RANGE_CLOEXEC (Linux >= 5.11) and falls
// back to scanning /proc/self/fd.
func CloseExtraFDs(keep ...int) error {
	sort.Ints(keep)
	lo := uint(3)
	var err error
	for _, k := range append(keep, -1) {
		hi := ^uint(0)
		if k >= 0 {
			if uint(k) < lo {
				continue
			}
			hi = uint(k) - 1
		}
		if hi >= lo {
			if err = unix.CloseRange(lo, hi, unix.CLOSE_RANGE_CLOEXEC); err != nil {
				break
			}
		}
		if k >= 0 {
			lo = uint(k) + 1
		}
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("marking fds close-on-exec: close_range: %w", err)
	}
	return cloexecByScan(keep)
}

// cloexecByScan is CloseExtraFDs for kernels without CLOSE_RANGE_CLOEXEC.
func cloexecByScan(keep []int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("marking fds close-on-exec: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("marking fds close-on-exec: reading /proc/self/fd: %w", err)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 3 || fd == int(d.Fd()) || slices.Contains(keep, fd) {
			continue
		}
		// EBADF: the fd was the directory's own, or closed meanwhile.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("marking fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
