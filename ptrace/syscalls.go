package ptrace

import (
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// The dispatch at a ptrace stop: enter hands a call to its handler by its
// row's action in the syscall table (paths.go, emulate.go, execve.go), and
// exitStop does what the enter stop left for the exit stop. tracer.go's
// wait loop calls the two; the handlers know nothing of the loop.

// enter handles a syscall at its seccomp stop (or enter stop without
// seccomp). th.regs holds the registers. It may change the call (the
// registers and memory below the stack pointer), fail it with an errno,
// or ask for the exit stop (th.exit).
func (t *tracer) enter(th *thread) error {
	r := &th.regs
	nr := sysNr(r)
	th.exit = exitNone
	for i := range th.args {
		th.args[i] = arg(r, i)
	}
	if !t.seccomp {
		// What the filter would have refused.
		native := systable.Native()
		if isCompat(r) || native.X32Bit != 0 && nr&int(native.X32Bit) != 0 || nr > native.MaxKnownSyscall {
			return t.fail(th, unix.ENOSYS)
		}
	}
	info := systable.ByNr()[nr]
	if info == nil || th.proc.ownRoot && info.Act != systable.ActRefuse {
		return nil
	}
	// Its paths are looked up in its own mounts (the kernel, given the
	// host path, walks them anyway); unshare and setns have none.
	t.lk.nsRoot = t.nsRootOf(th.tid, th.proc.otherNS, info)
	switch info.Act {
	case systable.ActPaths:
		return t.enterPaths(th, info)
	case systable.ActReadlink:
		return t.enterReadlink(th, info)
	case systable.ActExecve:
		return t.enterExecve(th, 0)
	case systable.ActExecveat:
		return t.enterExecveat(th)
	case systable.ActGetcwd:
		return t.enterGetcwd(th)
	case systable.ActGetdents:
		return t.enterGetdents(th)
	case systable.ActSockaddr:
		return t.enterSockaddr(th, info)
	case systable.ActSockname:
		th.saved = *r
		if lenPtr := arg(r, 2); lenPtr != 0 {
			if n, ok := readWord(th.tid, lenPtr); ok {
				th.exitArg = n & 0xffffffff
				th.exit = exitSockname
			}
		}
		return nil
	case systable.ActPrctl:
		if arg(r, 0) == unix.PR_SET_DUMPABLE && arg(r, 1) == 0 {
			// A non-dumpable tracee would lock the tracer out of its
			// /proc/<pid>/fd and memory; pretend it worked.
			return t.fail(th, 0)
		}
		return nil
	case systable.ActNamespace:
		// unshare(flags) or setns(fd, nstype): nstype 0 may be any
		// namespace. Marked before the call: one that fails only costs
		// the server a check per call.
		flags := arg(r, 0)
		if nr == systable.Numbers()["setns"] {
			flags = arg(r, 1)
			if flags == 0 {
				flags = unix.CLONE_NEWNS
			}
		}
		if flags&unix.CLONE_NEWNS != 0 && !th.proc.otherNS {
			t.mu.Lock()
			th.proc.otherNS = true
			t.mu.Unlock()
		}
		return nil
	case systable.ActRefuse:
		return t.fail(th, unix.ENOSYS)
	}
	return nil
}

// exitStop does th.exit's work at the syscall-exit stop.
func (t *tracer) exitStop(th *thread) error {
	work := th.exit
	th.exit = exitNone
	if work == exitNone {
		return nil
	}
	if err := getRegs(th.tid, &th.regs); err != nil {
		return t.ok(th, err)
	}
	r := &th.regs
	switch work {
	case exitRestore, exitExecve:
		t.restores++
		th.exec = nil
		restoreArgs(r, &th.saved)
		return t.ok(th, setRegs(th.tid, r))
	case exitGetdents:
		return t.exitGetdents(th)
	case exitSockname:
		return t.exitSockname(th)
	case exitScratch:
		return t.exitScratch(th)
	case exitForkReturn:
		return t.forkReturned(th)
	case exitInjectDone:
		return t.exitInjected(th)
	case exitResult:
		setResult(r, int64(th.exitArg))
		return t.ok(th, setRegs(th.tid, r))
	case exitNewRoot:
		if result(r) == 0 {
			t.mu.Lock()
			th.proc.ownRoot = true
			t.mu.Unlock()
		}
		restoreArgs(r, &th.saved)
		return t.ok(th, setRegs(th.tid, r))
	}
	return nil
}
