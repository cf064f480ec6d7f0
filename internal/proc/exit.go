package proc

import (
	"fmt"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitCode says how np should end after its child ended with ws: with exit
// code code, or, when sig is not 0, by re-raising sig on itself (see
// Reraise); code is then 128+sig, the shell's convention, for when Reraise
// returns.
func ExitCode(ws syscall.WaitStatus) (code int, sig syscall.Signal) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), 0
	case ws.Signaled():
		return 128 + int(ws.Signal()), ws.Signal()
	default:
		// Stopped/continued statuses are never returned by Run.
		return 128 + int(ws.StopSignal()), 0
	}
}

// ExitStatus is the wait status of a program that exited with code: the
// status of a command np answers itself, which main ends with like any
// program's.
func ExitStatus(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }

// Reraise kills the current process with sig, so that np's caller sees
// "killed by sig" just as with the bare program: a calling bash loop then
// stops on ^C. Only main calls it, as its last act.
//
// It restores the kernel-level default disposition (Go's own handler would
// turn SIGQUIT into a goroutine dump and exit 2), unblocks sig on this
// thread and sends it to this thread. It returns only if sig did not kill
// the process (its default action is to ignore or stop); main then exits
// 128+sig.
func Reraise(sig syscall.Signal) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	signal.Reset(sig)
	// The program may have dumped core; np dumping its own on top would be
	// a second, useless core file (the program's ulimit -c does not apply
	// to np).
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	// SIGKILL's action cannot be set (nor needs to be: it always kills).
	if sig != syscall.SIGKILL {
		if err := setDefaultAction(sig); err != nil {
			return
		}
	}
	var set unix.Sigset_t
	n := uint(sig) - 1
	set.Val[n/64] |= 1 << (n % 64)
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil); err != nil {
		return
	}
	_ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
}

// DescribeStatus says how a process ended, for messages.
func DescribeStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("signal %v", ws.Signal())
	default:
		return fmt.Sprintf("wait status %#x", uint32(ws))
	}
}
