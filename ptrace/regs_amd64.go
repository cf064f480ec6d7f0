package ptrace

import "golang.org/x/sys/unix"

// regs are a thread's registers at a stop.
//
// compat marks a 32-bit (i386) task: its register set is the 68-byte
// i386 one, kept in i386, and nothing in PtraceRegs is read for it. The
// registers are taken with PTRACE_GETREGSET, whose answer says which set
// the kernel wrote; PTRACE_GETREGS cannot tell: on Linux 6.18 it
// succeeds on an i386 task without writing anything, so the tracer read
// the previous stop's registers and let the 32-bit calls run untouched.
type regs struct {
	unix.PtraceRegs
	compat bool
	i386   i386Regs
}

const (
	i386Eax     = 6
	i386OrigEax = 11
)

const (
	// redZone is the area below the stack pointer that leaf functions
	// may use without moving it (System V x86_64 ABI).
	redZone = 128
	// enosysAtEnter is what the result register holds at a syscall-enter
	// stop; the stop-order probe tells enter from exit by it.
	enosysAtEnter = -int64(unix.ENOSYS)
)

func getRegs(tid int, r *regs) error {
	n, err := getRegSet(tid, &r.PtraceRegs)
	if err != nil {
		return err
	}
	r.compat = n < sizeofPtraceRegs
	if r.compat {
		r.i386 = i386FromRaw(&r.PtraceRegs)
	}
	return nil
}

func setRegs(tid int, r *regs) error {
	if r.compat {
		return setI386RegSet(tid, &r.i386)
	}
	return unix.PtraceSetRegs(tid, &r.PtraceRegs)
}

func sysNr(r *regs) int {
	if r.compat {
		return int(int32(r.i386[i386OrigEax]))
	}
	return int(int64(r.Orig_rax))
}

func setNr(r *regs, nr int) {
	if r.compat {
		r.i386[i386OrigEax] = uint32(int32(nr))
		return
	}
	r.Orig_rax = uint64(int64(nr))
}

func arg(r *regs, i int) uint64 {
	switch i {
	case 0:
		return r.Rdi
	case 1:
		return r.Rsi
	case 2:
		return r.Rdx
	case 3:
		return r.R10
	case 4:
		return r.R8
	case 5:
		return r.R9
	}
	return 0
}

func setArg(r *regs, i int, v uint64) {
	switch i {
	case 0:
		r.Rdi = v
	case 1:
		r.Rsi = v
	case 2:
		r.Rdx = v
	case 3:
		r.R10 = v
	case 4:
		r.R8 = v
	case 5:
		r.R9 = v
	}
}

// restoreArgs puts the argument registers of saved back into r, keeping
// r's result: the x86_64 syscall ABI preserves every register but rax,
// rcx and r11, and compiled code may rely on it.
func restoreArgs(r, saved *regs) {
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = saved.Rdi, saved.Rsi, saved.Rdx, saved.R10, saved.R8, saved.R9
}

func result(r *regs) int64 {
	if r.compat {
		return int64(int32(r.i386[i386Eax]))
	}
	return int64(r.Rax)
}

func setResult(r *regs, v int64) {
	if r.compat {
		r.i386[i386Eax] = uint32(v)
		return
	}
	r.Rax = uint64(v)
}

func stackPointer(r *regs) uint64 { return r.Rsp }

// isCompat says whether the call comes from a 32-bit task. (int 0x80
// from 64-bit code keeps the 64-bit register set: only the filter's arch
// check sees those; without a filter they are not told apart.)
func isCompat(r *regs) bool { return r.compat || r.Cs == 0x23 }

// atSyscallEnter tells a syscall-enter stop from a syscall-exit stop (not
// for seccomp stops): the kernel sets rax to -ENOSYS before the enter
// stop, and the result replaces it.
func atSyscallEnter(r *regs) bool { return result(r) == enosysAtEnter }

// rewindSyscall makes r, the registers of a syscall-enter stop, run the
// call again: the instruction pointer back on the 2-byte syscall
// instruction, rax (where the result went) holding the number again.
func rewindSyscall(r *regs) {
	r.Rip -= 2
	r.Rax = r.Orig_rax
}

// callAgain makes r, the registers of a syscall-exit stop, run another
// system call: the instruction pointer back on the syscall instruction,
// rax the number, the arguments in their registers.
func callAgain(r *regs, nr int, a0, a1, a2, a3, a4, a5 uint64) {
	r.Rip -= 2
	r.Rax = uint64(nr)
	r.Orig_rax = uint64(nr)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a0, a1, a2, a3, a4, a5
}
