package proc

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// ForwardEach is Forward for a runtime that starts its children one run
// at a time (ptrace): the signals are caught once, for the rest of np's
// life, and each run only names its child. Forward's signal.Stop at the
// end of every run was a round trip per signal to the runtime's signal
// thread on the way out (0.1–0.3 ms measured here). to names the run's
// child (signals caught before it are sent then); stop ends the run.
// Outside a run a caught signal ends np by its default action, as it
// would uncaught; before the first run's catcher is in place it is not
// caught at all, as with Forward.
func ForwardEach() (to func(pid int), stop func()) {
	each.once.Do(func() {
		sigs := make(chan os.Signal, 16)
		go func() {
			// In the background, as Forward: each signal.Notify is a
			// round trip to the runtime's signal thread.
			signal.Notify(sigs, caught()...)
			for sig := range sigs {
				each.deliver(sig)
			}
		}()
	})
	each.mu.Lock()
	each.armed, each.pid, each.early = true, 0, nil
	each.mu.Unlock()
	to = func(pid int) {
		each.mu.Lock()
		each.pid = pid
		early := each.early
		each.early = nil
		each.mu.Unlock()
		for _, sig := range early {
			sendForwarded(pid, sig)
		}
	}
	stop = func() {
		each.mu.Lock()
		each.armed, each.pid, each.early = false, 0, nil
		each.mu.Unlock()
	}
	return to, stop
}

type forwarder struct {
	once  sync.Once
	mu    sync.Mutex
	armed bool        // a run is on
	pid   int         // its child, once started
	early []os.Signal // caught before the child was named
}

var each forwarder

func (f *forwarder) deliver(sig os.Signal) {
	f.mu.Lock()
	pid, armed := f.pid, f.armed
	if armed && pid == 0 {
		f.early = append(f.early, sig)
	}
	f.mu.Unlock()
	switch {
	case pid > 0:
		sendForwarded(pid, sig)
	case armed:
	default:
		// No run: what the signal would have done uncaught.
		signal.Reset(sig)
		_ = unix.Kill(unix.Getpid(), sig.(syscall.Signal))
	}
}

// sendForwarded sends sig to pid as forwardTo does.
func sendForwarded(pid int, sig os.Signal) {
	if (sig == unix.SIGINT || sig == unix.SIGQUIT) && inTerminalForeground() {
		logrus.Tracef("not forwarding %v: the terminal sent it to the child too", sig)
		return
	}
	logrus.Tracef("forwarding %v to pid %d", sig, pid)
	// ESRCH (already gone) is fine: its exit status is on the way.
	_ = unix.Kill(pid, sig.(syscall.Signal))
}
