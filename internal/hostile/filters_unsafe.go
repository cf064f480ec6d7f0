package hostile

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilterPrctl loads prog with prctl(PR_SET_SECCOMP,
// SECCOMP_MODE_FILTER), which works where seccomp(2) is missing (Linux <
// 3.17, or under a "linux-3.10" filter). Precondition: the OS thread is
// locked and no_new_privs is set.
func installFilterPrctl(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
}
