package hostile

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter loads prog with seccomp(SECCOMP_SET_MODE_FILTER) on the
// calling thread only (no TSYNC). Precondition: the OS thread is locked
// and no_new_privs is set.
func installFilter(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return errno
	}
	return nil
}
