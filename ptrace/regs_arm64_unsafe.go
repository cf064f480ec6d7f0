//go:build arm64

package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const ntArmSystemCall = 0x404

// sizeofPtraceRegs is the size of the native register set (struct
// user_pt_regs: x0-x30, sp, pc, pstate).
const sizeofPtraceRegs = int(unsafe.Sizeof(unix.PtraceRegs{}))

// regset does PTRACE_GETREGSET or PTRACE_SETREGSET and returns the size
// the kernel used, which it writes back into the iovec.
func regset(req int, tid int, typ int, p unsafe.Pointer, size int) (int, error) {
	iov := unix.Iovec{Base: (*byte)(p)}
	iov.SetLen(size)
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), uintptr(typ), uintptr(unsafe.Pointer(&iov)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(iov.Len), nil
}

func getRegSet(tid int, r *unix.PtraceRegs) (int, error) {
	return regset(unix.PTRACE_GETREGSET, tid, unix.NT_PRSTATUS, unsafe.Pointer(r), sizeofPtraceRegs)
}

func setRegSet(tid int, r *unix.PtraceRegs) error {
	_, err := regset(unix.PTRACE_SETREGSET, tid, unix.NT_PRSTATUS, unsafe.Pointer(r), sizeofPtraceRegs)
	return err
}

// setCompatRegSet writes an AArch32 task's registers: exactly its 72
// bytes, as a native-sized write would be cut to 72 bytes of the native
// layout.
func setCompatRegSet(tid int, r *compatRegs) error {
	_, err := regset(unix.PTRACE_SETREGSET, tid, unix.NT_PRSTATUS, unsafe.Pointer(r), int(unsafe.Sizeof(*r)))
	return err
}

// compatFromRaw takes the compat register set the kernel wrote at the
// start of a native-sized buffer.
func compatFromRaw(raw *unix.PtraceRegs) compatRegs {
	return *(*compatRegs)(unsafe.Pointer(raw))
}

// setSyscallNr changes the call about to run (or, -1, skips it): arm64
// has no orig_x0-like register in the set, the number lives in the
// kernel's syscallno, reached through NT_ARM_SYSTEM_CALL.
func setSyscallNr(tid int, nr int) error {
	v := int32(nr)
	_, err := regset(unix.PTRACE_SETREGSET, tid, ntArmSystemCall, unsafe.Pointer(&v), 4)
	return err
}

// compatRegs is the AArch32 register set (struct compat_user_regs,
// NT_PRSTATUS of a compat task): r0-r15, cpsr, orig_r0.
type compatRegs [18]uint32
