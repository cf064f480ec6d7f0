package proc

import (
	"errors"
	"fmt"
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
	open, _ := OpenFDs()
	var fds []int
	for _, fd := range open {
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	return fds
}

// OpenFDs lists this process's descriptors >= 3 from /proc/self/fd (the
// listing's own descriptor left out), in the order the kernel lists them.
func OpenFDs() ([]int, error) {
	d, err := plainfile.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	var fds []int
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd >= 3 && fd != int(d.Fd()) {
			fds = append(fds, fd)
		}
	}
	if err != nil {
		return fds, fmt.Errorf("reading /proc/self/fd: %w", err)
	}
	return fds, nil
}

// ExtraFDRanges is every range [lo, hi] of descriptors >= 3 that keep (in
// ascending order) leaves out, the last one open-ended (hi = ^uint(0)):
// what close_range(2) is given so that only stdio and keep stay.
func ExtraFDRanges(keep []int) [][2]uint {
	var ranges [][2]uint
	lo := uint(3)
	for _, k := range append(slices.Clip(keep), -1) {
		hi := ^uint(0)
		if k >= 0 {
			if uint(k) < lo {
				continue
			}
			hi = uint(k) - 1
		}
		if hi >= lo {
			ranges = append(ranges, [2]uint{lo, hi})
		}
		if k >= 0 {
			lo = uint(k) + 1
		}
	}
	return ranges
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
	var err error
	for _, r := range ExtraFDRanges(keep) {
		if err = unix.CloseRange(r[0], r[1], unix.CLOSE_RANGE_CLOEXEC); err != nil {
			break
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
	fds, err := OpenFDs()
	if err != nil {
		return fmt.Errorf("marking fds close-on-exec: %w", err)
	}
	for _, fd := range fds {
		if slices.Contains(keep, fd) {
			continue
		}
		// EBADF: closed meanwhile.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("marking fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
