package ptrace

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter loads prog on the calling thread with seccomp(2), or with
// prctl(PR_SET_SECCOMP) on kernels older than 3.17, which lack the call.
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

// installFilterWithListener loads prog with a user-notification listener
// and returns the listener's fd.
//
// Where the kernel has it (Linux >= 5.19), a call the server has received
// waits for its answer killably only: a signal handler then runs once the
// answer is in, instead of interrupting the call and restarting it. Without
// that, a restarted open of a FIFO left the server's first open (already
// waiting in the kernel for a writer) behind as a phantom reader: a writer
// met it, wrote, and left, and the restarted open waited forever.
func installFilterWithListener(prog []unix.SockFilter) (int, error) {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	fd, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno == unix.EINVAL {
		flags = unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		fd, _, errno = unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	}
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}
