package ptrace

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/ptrace/systable"
)

// Options are the ptrace runtime's own choices for a run (the rest is
// launch.Spec).
type Options struct {
	// NoSeccomp traces every system call (PTRACE_SYSCALL) instead of
	// stopping only for the ones with paths (a seccomp filter).
	NoSeccomp bool
	// NoNotify keeps every filtered call on ptrace stops, as on kernels
	// without seccomp user notifications (Linux < 5.0: RHEL 7 and 8), for
	// hosts where notifications misbehave and to measure that mode.
	NoNotify bool
}

// runStats are the counts of the last run, for tests.
type runStats struct{ stops, notifications int64 }

var lastRunStats runStats

// runMu: one traced tree per process at a time. The wait loop waits for
// any child (tracees are not all children), so two would steal each
// other's events.
var runMu sync.Mutex

// Run runs the program traced, every path under /nix served from NixDir,
// and returns its wait status. Argv[0] is looked up in the translated
// view; the program starts in spec.Dir, or in np's own directory when
// that name leads nowhere. Signals np receives are forwarded to it as
// proc.RunHook does. Run returns once every traced process has ended
// (background processes the program left are waited for: none may run
// on untranslated).
//
// A *launch.SetupError means the program never started and Stdin was not read:
// the caller may fall back. A *proc.LookupError wraps proc.ErrNotFound or
// proc.ErrNotExecutable. When the seccomp filter cannot be installed, Run
// retries without it by itself.
func Run(spec launch.Spec, opts Options) (syscall.WaitStatus, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("running traced program: no program given")
	}
	ws, err := run(&spec, opts, false)
	var se *launch.SetupError
	if !opts.NoSeccomp && errors.As(err, &se) && se.Step == stepFilter {
		logrus.Debugf("ptrace: %v; tracing every system call instead", err)
		opts.NoSeccomp = true
		return run(&spec, opts, false)
	}
	return ws, err
}

// Probe says whether tracing works here: ptrace is allowed, the stub can
// be seized, the seccomp filter installed and the kernel's stop order
// detected. It returns nil or a *launch.SetupError. A filter the kernel refuses
// is not a failure (Run works without it).
func Probe() error {
	return stubHelper.Probe(func(nixDir string) (syscall.WaitStatus, error) {
		ws, err := run(&launch.Spec{NixDir: nixDir}, Options{}, true)
		var se *launch.SetupError
		if errors.As(err, &se) && se.Step == stepFilter {
			ws, err = run(&launch.Spec{NixDir: nixDir}, Options{NoSeccomp: true}, true)
		}
		return ws, err
	})
}

func run(spec *launch.Spec, opts Options, probe bool) (syscall.WaitStatus, error) {
	runMu.Lock()
	defer runMu.Unlock()
	var l launch.Launch
	defer l.CloseAll()
	if err := l.Prepare(stubHelper, spec, probe); err != nil {
		return 0, err
	}
	calls := hostCallsHere()
	memVia = calls.mem()
	stubOpts := &stubOptions{NoSeccomp: opts.NoSeccomp, Notify: calls.notify()}
	if opts.NoNotify || opts.NoSeccomp {
		stubOpts.Notify = systable.NotifyNone
	}
	l.Request.Options = stubOpts
	// Orphans of the traced tree come back to np, so their exit is seen
	// (they stay traced either way).
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	sock, stubSock, err := listenerSocket()
	if err != nil {
		return 0, &launch.SetupError{Step: "creating the listener socket", Err: err}
	}
	defer unix.Close(sock)
	l.AddFD(stubSock)
	cmd := l.Command()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	t := newTracer(l.Request.NixDir, !opts.NoSeccomp)
	t.listenerSock = sock
	defer t.sockets.close()
	defer quietStops()()
	started, traced := false, false
	var loopErr error
	_, err = proc.RunHookReaping(cmd, func(child *os.Process) error {
		started = true
		if err := t.seize(child.Pid); err != nil {
			_ = child.Kill()
			return &launch.SetupError{Step: stepSeize, Err: err}
		}
		traced = true
		l.CloseChildEnds()
		// The status pipe is read aside: this thread must serve the
		// stub's stops meanwhile.
		statusDone := make(chan struct{})
		go func() {
			defer close(statusDone)
			_ = l.ReadStatus(true) // Result reports a failure
		}()
		_ = l.Send() // a refused spec means the stub died: Result says how
		loopErr = t.loop()
		served := int64(0)
		if t.notifier != nil {
			t.notifier.stop()
			served = t.notifier.served.Load()
		}
		logrus.Debugf("ptrace: %d stops (%d to restore registers), %d notifications, seccomp=%v", t.stops, t.restores, served, t.seccomp)
		lastRunStats = runStats{int64(t.stops), served}
		if loopErr != nil {
			t.killAll()
			for t.drain() {
			}
		}
		<-statusDone
		return nil
	})
	l.CloseChildEnds()
	copyErr := l.Wait()
	switch {
	case !started:
		return 0, &launch.SetupError{Step: stepStub, Err: err}
	case !traced:
		return 0, err
	case loopErr != nil:
		return 0, fmt.Errorf("tracing %s: %w (the traced processes were killed)", programName(spec), loopErr)
	}
	// Killed during set-up (^C), Result returns the stub's status and no
	// error: np ends the same way.
	ws, err := l.Result(t.rootWS)
	if err != nil {
		return 0, err
	}
	return ws, copyErr
}

// programName names the program in messages.
func programName(s *launch.Spec) string {
	if len(s.Argv) == 0 {
		return "program"
	}
	return s.Argv[0]
}

// drain reaps what is left after killAll; false once nothing is.
func (t *tracer) drain() bool {
	var ws unix.WaitStatus
	_, err := unix.Wait4(-1, &ws, unix.WALL, nil)
	return err == nil || errors.Is(err, unix.EINTR)
}
