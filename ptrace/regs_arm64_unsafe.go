package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const ntArmSystemCall = 0x404

func regset(req int, tid int, typ int, p unsafe.Pointer, size int) error {
	iov := unix.Iovec{Base: (*byte)(p)}
	iov.SetLen(size)
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), uintptr(typ), uintptr(unsafe.Pointer(&iov)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func getRegSet(tid int, r *unix.PtraceRegs) error {
	return regset(unix.PTRACE_GETREGSET, tid, unix.NT_PRSTATUS, unsafe.Pointer(r), int(unsafe.Sizeof(*r)))
}

func setRegSet(tid int, r *unix.PtraceRegs) error {
	return regset(unix.PTRACE_SETREGSET, tid, unix.NT_PRSTATUS, unsafe.Pointer(r), int(unsafe.Sizeof(*r)))
}

func setSyscallNr(tid int, nr int) error {
	v := int32(nr)
	return regset(unix.PTRACE_SETREGSET, tid, ntArmSystemCall, unsafe.Pointer(&v), 4)
}
