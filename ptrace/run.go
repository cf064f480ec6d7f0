package ptrace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
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
type runStats struct {
	stops, notifications int64
	// oldOrder: the seccomp stop came before the syscall-enter stop;
	// orderByStop: the probe call's extra stop told (not
	// PTRACE_GET_SYSCALL_INFO).
	oldOrder, orderByStop bool
}

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
	return runFalling(&spec, opts, false)
}

// runFalling is run, again with ptrace stops for every filtered call when
// the filter with a notification listener cannot be installed, and again
// without the filter when no filter can.
func runFalling(spec *launch.Spec, opts Options, probe bool) (syscall.WaitStatus, error) {
	ws, err := run(spec, opts, probe)
	if !opts.NoSeccomp && !opts.NoNotify && errors.Is(err, errNotifyFilter) {
		logrus.Debugf("ptrace: %v; no notifications", err)
		opts.NoNotify = true
		ws, err = run(spec, opts, probe)
	}
	var se *launch.SetupError
	if !opts.NoSeccomp && errors.As(err, &se) && se.Step == stepFilter {
		logrus.Debugf("ptrace: %v; tracing every system call instead", err)
		opts.NoSeccomp = true
		return run(spec, opts, probe)
	}
	return ws, err
}

// Probe says whether tracing works here: ptrace is allowed, the child can
// be seized, the seccomp filter installed and the kernel's stop order
// detected. It returns nil or a *launch.SetupError. A filter the kernel refuses
// is not a failure (Run works without it).
func Probe() error {
	return probeHelper.Probe(func(nixDir string) (syscall.WaitStatus, error) {
		return runFalling(&launch.Spec{NixDir: nixDir}, Options{}, true)
	})
}

func run(spec *launch.Spec, opts Options, probe bool) (syscall.WaitStatus, error) {
	runMu.Lock()
	defer runMu.Unlock()
	calls := hostCallsHere()
	memVia = calls.mem()
	// The first notification server's thread starts beside the set-up
	// below; the filter, chosen after it, needs its answer.
	var srv *serverThread
	if !opts.NoNotify && !opts.NoSeccomp && calls.notify() > systable.NotifyNone {
		srv = startServerThread()
		defer srv.release()
	}
	forwardTo := make(chan int, 1) // the child's pid, once it exists
	defer proc.Forward(forwardTo)()
	nixDir, err := launch.ResolveDir(spec.NixDir)
	if err != nil {
		return 0, &launch.SetupError{Step: "checking nix directory", Path: spec.NixDir, Err: err}
	}
	var p proc.Plumbing
	defer p.CloseAll()
	// Orphans of the traced tree come back to np, so their exit is seen
	// (they stay traced either way).
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	t := newTracer(nixDir, !opts.NoSeccomp)
	t.server = srv
	sock := -1
	if !opts.NoSeccomp {
		var childSock *os.File
		sock, childSock, err = listenerSocket()
		if err != nil {
			return 0, &launch.SetupError{Step: "creating the listener socket", Err: err}
		}
		defer unix.Close(sock)
		p.AddChildEnd(childSock)
		t.listenerSock = sock
		sock = int(childSock.Fd())
	}
	if srv != nil {
		calls.ownFS = srv.ownFSNow()
	}
	level := calls.notify()
	if opts.NoNotify || opts.NoSeccomp {
		level = systable.NotifyNone
	}
	s, err := t.prepareChild(spec, &p, !opts.NoSeccomp, level, probe, sock)
	if err != nil {
		return 0, err
	}
	defer s.closeChildEnds()
	defer t.sockets.close()
	defer quietStops()()

	// This thread forks the child and stays the tracer thread for the
	// whole run: every ptrace request must come from it, and the child's
	// parent-death signal fires when it ends.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := forkChild(s.plan)
	runtime.KeepAlive(s.plan)
	// Closed once the child is seized (or to be killed): it goes on at EOF.
	defer func() {
		if s.syncW >= 0 {
			unix.Close(s.syncW)
		}
	}()
	if err != nil {
		return 0, &launch.SetupError{Step: stepStart, Err: fmt.Errorf("fork: %w", err)}
	}
	if err := t.seize(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
		return 0, &launch.SetupError{Step: stepSeize, Err: err}
	}
	unix.Close(s.syncW) // the child goes on
	s.syncW = -1
	s.closeChildEnds()
	forwardTo <- pid
	// The status pipe is read aside: this thread must serve the child's
	// stops meanwhile.
	var status []byte
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		status, _ = io.ReadAll(s.statusR)
		if len(status) == 1 && status[0] == statusMarker {
			p.StartStdin()
		}
	}()
	loopErr := t.loop()
	served := int64(0)
	if t.notifier != nil {
		t.notifier.stop()
		served = t.notifier.served.Load()
	}
	logrus.Debugf("ptrace: %d stops (%d to restore registers), %d notifications, seccomp=%v", t.stops, t.restores, served, t.seccomp)
	lastRunStats = runStats{stops: int64(t.stops), notifications: served, oldOrder: t.oldOrder, orderByStop: t.orderByStop}
	if loopErr != nil {
		t.killAll()
		for t.drain() {
		}
	}
	<-statusDone
	copyErr := p.Wait()
	if loopErr != nil {
		return 0, fmt.Errorf("tracing %s: %w (the traced processes were killed)", programName(spec), loopErr)
	}
	// Killed during set-up (^C), result returns the child's status and no
	// error: np ends the same way.
	ws, err := s.result(status, t.rootWS)
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
