package ptrace

import "golang.org/x/sys/unix"

// regs are a thread's registers at a stop, plus the syscall number and
// the entry value of x0 (the result overwrites it).
type regs struct {
	unix.PtraceRegs
	nr   int
	orig uint64
}

const (
	redZone       = 0 // none on arm64
	enosysAtEnter = -int64(unix.ENOSYS)
)

func getRegs(tid int, r *regs) error {
	if err := getRegSet(tid, &r.PtraceRegs); err != nil {
		return err
	}
	r.nr = int(int64(r.Regs[8]))
	r.orig = r.Regs[0]
	return nil
}

func setRegs(tid int, r *regs) error {
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

func result(r *regs) int64        { return int64(r.Regs[0]) }
func setResult(r *regs, v int64)  { r.Regs[0] = uint64(v) }
func stackPointer(r *regs) uint64 { return r.Sp }
func isCompat(r *regs) bool       { return false }

// isEnterForProbe: at the enter stop x0 still holds AT_FDCWD.
func isEnterForProbe(r *regs) bool { return int64(r.Regs[0]) == int64(unix.AT_FDCWD) }

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
