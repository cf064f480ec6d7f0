package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// atSeccompStopInfo says whether PTRACE_GET_SYSCALL_INFO (Linux 5.3)
// describes tid's current stop as a seccomp stop. It exists only on
// kernels that stop for seccomp after the syscall-enter stop (Linux 4.8
// reordered them, years before 5.3 added the request), so a yes settles the
// stop order without the probe's extra stop. Kernels without it (the old
// order's 4.4 and RHEL 7.3, and RHEL 7.9, whose backported new order the
// probe finds) and hosts whose profile refuses it answer no: the probe
// stop then tells.
func atSeccompStopInfo(tid int) bool {
	// struct ptrace_syscall_info: op (u8), pad, arch (u32), ip, sp, then
	// the seccomp stop's nr, args[6] and ret_data: 84 bytes.
	var info [88]byte
	n, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GET_SYSCALL_INFO, uintptr(tid), uintptr(len(info)), uintptr(unsafe.Pointer(&info[0])), 0, 0)
	return errno == 0 && n > 0 && info[0] == unix.PTRACE_SYSCALL_INFO_SECCOMP
}

// noSyscallInfoForTests makes the probe learn the stop order from its
// extra stop, as on kernels before 5.3.
var noSyscallInfoForTests bool
