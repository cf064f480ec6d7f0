package ptrace

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter loads prog on the calling thread with seccomp(2), or with
// prctl(PR_SET_SECCOMP) on kernels older than 3.17, which lack the call:
// the probe test's stand-in for a host that refuses ptrace (the forked
// child installs np's own filter with raw calls, see fork_unsafe.go).
// Precondition: the OS thread is locked and no_new_privs is set.
func installFilter(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno == 0 {
		return nil
	}
	if !errors.Is(errno, unix.ENOSYS) {
		return errno
	}
	_, _, errno = unix.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return errno
	}
	return nil
}
