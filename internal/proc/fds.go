package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseExtraFDs marks every file descriptor >= 3 close-on-exec, so only
// stdin, stdout and stderr reach the program exec'd next. Descriptors stay
// usable until then (a status pipe that must close at exec, the Go
// runtime's own epoll and pipe fds).
//
// It uses close_range(2) with CLOSE_RANGE_CLOEXEC (Linux >= 5.11) and falls
// back to scanning /proc/self/fd.
func CloseExtraFDs() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("marking fds close-on-exec: close_range: %w", err)
	}
	return cloexecByScan()
}

// cloexecByScan is CloseExtraFDs for kernels without CLOSE_RANGE_CLOEXEC.
func cloexecByScan() error {
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
		if err != nil || fd < 3 || fd == int(d.Fd()) {
			continue
		}
		// EBADF: the fd was the directory's own, or closed meanwhile.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("marking fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
