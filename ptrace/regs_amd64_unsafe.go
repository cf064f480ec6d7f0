//go:build amd64

package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sizeofPtraceRegs is the size of the x86_64 register set (struct
// user_regs_struct); an i386 task's is 68 bytes.
const sizeofPtraceRegs = int(unsafe.Sizeof(unix.PtraceRegs{}))

// getRegSet reads NT_PRSTATUS and returns the size the kernel wrote,
// which tells an i386 task's set from an x86_64 one.
func getRegSet(tid int, r *unix.PtraceRegs) (int, error) {
	iov := unix.Iovec{Base: (*byte)(unsafe.Pointer(r))}
	iov.SetLen(sizeofPtraceRegs)
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(tid), unix.NT_PRSTATUS, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(iov.Len), nil
}

// setI386RegSet writes an i386 task's registers, exactly its 68 bytes.
func setI386RegSet(tid int, r *i386Regs) error {
	iov := unix.Iovec{Base: (*byte)(unsafe.Pointer(r))}
	iov.SetLen(int(unsafe.Sizeof(*r)))
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(tid), unix.NT_PRSTATUS, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// i386FromRaw takes the i386 register set the kernel wrote at the start
// of an x86_64-sized buffer.
func i386FromRaw(raw *unix.PtraceRegs) i386Regs {
	return *(*i386Regs)(unsafe.Pointer(raw))
}

// i386Regs is struct user_regs_struct of i386: ebx, ecx, edx, esi, edi,
// ebp, eax, xds, xes, xfs, xgs, orig_eax, eip, xcs, eflags, esp, xss.
type i386Regs [17]uint32
