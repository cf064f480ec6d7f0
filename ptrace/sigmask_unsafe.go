package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigmask reads a stopped tracee's blocked signals (PTRACE_GETSIGMASK,
// Linux 3.11).
func sigmask(tid int) (uint64, error) {
	var set uint64
	if _, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGMASK, uintptr(tid), 8, uintptr(unsafe.Pointer(&set)), 0, 0); errno != 0 {
		return 0, errno
	}
	return set, nil
}

// setSigmask sets a stopped tracee's blocked signals (the kernel keeps
// SIGKILL and SIGSTOP out of it).
func setSigmask(tid int, set uint64) error {
	if _, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETSIGMASK, uintptr(tid), 8, uintptr(unsafe.Pointer(&set)), 0, 0); errno != 0 {
		return errno
	}
	return nil
}
