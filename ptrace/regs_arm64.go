package ptrace

import "golang.org/x/sys/unix"

// regs are a thread's registers at a stop, plus the syscall number and
// the entry value of x0 (the result overwrites it).
//
// x0 is both the first argument and the result: orig is x0 as read at the
// stop the registers were taken at, so it is the first argument only at
// a seccomp or enter stop. Exit-side work (exitGetdents, exitSockname,
// exitRestore) therefore reads arguments from th.saved, taken at the
// enter, never from the exit stop's registers, and restoreArgs leaves x0
// (the result) alone.
//
// An AArch32 task (compat) has a register set of 18 32-bit words instead:
// compat says so and a32 holds it; nothing in it is read as native.
type regs struct {
	unix.PtraceRegs
	nr     int
	orig   uint64
	compat bool
	a32    compatRegs
}

const redZone = 0 // none on arm64

func getRegs(tid int, r *regs) error {
	n, err := getRegSet(tid, &r.PtraceRegs)
	if err != nil {
		return err
	}
	// The kernel says how much it wrote: an AArch32 task's set is the
	// 72-byte compat one, which the tracer only ever refuses (ENOSYS).
	r.compat = n < sizeofPtraceRegs
	if r.compat {
		r.a32 = compatFromRaw(&r.PtraceRegs)
		r.nr = int(int32(r.a32[7])) // the AArch32 EABI number is in r7
		r.orig = uint64(r.a32[0])
		return nil
	}
	r.nr = int(int64(r.Regs[8]))
	r.orig = r.Regs[0]
	return nil
}

func setRegs(tid int, r *regs) error {
	if r.compat {
		if err := setCompatRegSet(tid, &r.a32); err != nil {
			return err
		}
		return setSyscallNr(tid, r.nr)
	}
	if err := setRegSet(tid, &r.PtraceRegs); err != nil {
		return err
	}
	return setSyscallNr(tid, r.nr)
}

func sysNr(r *regs) int     { return r.nr }
func setNr(r *regs, nr int) { r.nr = nr }

func arg(r *regs, i int) uint64 {
	if i == 0 {
		return r.orig
	}
	return r.Regs[i]
}

func setArg(r *regs, i int, v uint64) {
	if i == 0 {
		r.orig = v
	}
	r.Regs[i] = v
}

func restoreArgs(r, saved *regs) {
	for i := 1; i < 6; i++ {
		r.Regs[i] = saved.Regs[i]
	}
}

func result(r *regs) int64 {
	if r.compat {
		return int64(int32(r.a32[0]))
	}
	return int64(r.Regs[0])
}

func setResult(r *regs, v int64) {
	if r.compat {
		r.a32[0] = uint32(v)
		return
	}
	r.Regs[0] = uint64(v)
}

func stackPointer(r *regs) uint64 { return r.Sp }

// isCompat says whether the call comes from an AArch32 task.
func isCompat(r *regs) bool { return r.compat }

// atSyscallEnter tells a syscall-enter stop from a syscall-exit stop (not
// for seccomp stops). arm64 has no -ENOSYS in x0 at the enter stop (x0
// is the first argument until the call returns); instead the kernel puts
// 0 (enter) or 1 (exit) in x7 for the tracer at these stops, r12 for an
// AArch32 task, and restores the register afterwards.
func atSyscallEnter(r *regs) bool {
	if r.compat {
		return r.a32[12] == 0
	}
	return r.Regs[7] == 0
}

// rewindSyscall makes r, the registers of a syscall-enter stop, run the
// call again: the program counter back on the 4-byte svc instruction, x0
// holding the first argument again (x8 still holds the number).
func rewindSyscall(r *regs) {
	r.Pc -= 4
	r.Regs[0] = r.orig
}

// callAgain makes r, the registers of a syscall-exit stop, run another
// system call: the program counter back on svc, x8 the number.
func callAgain(r *regs, nr int, a0, a1, a2, a3, a4, a5 uint64) {
	r.Pc -= 4
	r.Regs[8] = uint64(nr)
	r.nr = nr
	r.orig = a0
	r.Regs[0], r.Regs[1], r.Regs[2], r.Regs[3], r.Regs[4], r.Regs[5] = a0, a1, a2, a3, a4, a5
}
