package ptrace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
)

// Spec is one traced run.
type Spec struct {
	// NixDir is the host directory that appears at /nix; it must exist.
	NixDir string
	// Argv is the program and its arguments; Argv[0] is looked up on the
	// PATH of Env as execvp does, in the translated view.
	Argv []string
	// Env is the program's complete environment.
	Env []string
	// Dir is the working directory (the caller's cwd, as the caller sees
	// it); "" = np's own.
	Dir string
	// Stdin, Stdout and Stderr default to np's own. An *os.File is passed
	// as is; anything else is copied through a pipe, stdin only once the
	// program really runs.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// PassFDs are descriptors >= 3 that reach the program at the same
	// numbers.
	PassFDs []int
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
// and returns its wait status. Signals np receives are forwarded to it as
// proc.RunHook does. Run returns once every traced process has ended
// (background processes the program left are waited for: none may run
// on untranslated).
//
// A *SetupError means the program never started and Stdin was not read:
// the caller may fall back. A *proc.LookupError wraps proc.ErrNotFound or
// proc.ErrNotExecutable. When the seccomp filter cannot be installed, Run
// retries without it by itself.
func Run(spec Spec) (syscall.WaitStatus, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("running traced program: no program given")
	}
	ws, err := run(spec, false)
	var se *SetupError
	if !spec.NoSeccomp && errors.As(err, &se) && se.Step == stepFilter {
		logrus.Debugf("ptrace: %v; tracing every system call instead", err)
		spec.NoSeccomp = true
		return run(spec, false)
	}
	return ws, err
}

// Probe says whether tracing works here: ptrace is allowed, the stub can
// be seized, the seccomp filter installed and the kernel's stop order
// detected. It returns nil or a *SetupError. A filter the kernel refuses
// is not a failure (Run works without it).
func Probe() error {
	dir, err := os.MkdirTemp("", "np-probe-")
	if err != nil {
		dir, err = os.MkdirTemp("/tmp", "np-probe-") // TMPDIR names no directory
	}
	if err == nil {
		defer os.Remove(dir)
	} else {
		dir = "/"
	}
	ws, err := run(Spec{NixDir: dir}, true)
	var se *SetupError
	if errors.As(err, &se) && se.Step == stepFilter {
		ws, err = run(Spec{NixDir: dir, NoSeccomp: true}, true)
	}
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &SetupError{Step: "running probe", Err: fmt.Errorf("stub ended with %s", proc.DescribeStatus(ws))}
	}
	return nil
}

func run(spec Spec, probe bool) (syscall.WaitStatus, error) {
	runMu.Lock()
	defer runMu.Unlock()
	nixDir, err := resolveDir(spec.NixDir)
	if err != nil {
		return 0, &SetupError{Step: "checking nix directory " + spec.NixDir, Err: err}
	}
	calls := hostCallsHere()
	memVia = calls.mem()
	wire := &wireSpec{Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir, NoSeccomp: spec.NoSeccomp, Notify: calls.notify(),
		Probe: probe, LogLevel: uint32(logrus.GetLevel())}
	if spec.NoNotify || spec.NoSeccomp {
		wire.Notify = notifyNone
	}
	if !probe {
		wire.KeepFDs = spec.PassFDs
	}
	// Orphans of the traced tree come back to np, so their exit is seen
	// (they stay traced either way).
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	var p proc.Plumbing
	defer p.CloseAll()
	passed, err := p.DupAll(wire.KeepFDs)
	if err != nil {
		return 0, &SetupError{Step: "passing inherited fds", Err: err}
	}
	specR, specW, err := p.Pipe(true)
	if err != nil {
		return 0, &SetupError{Step: "creating spec pipe", Err: err}
	}
	statusR, statusW, err := p.Pipe(false)
	if err != nil {
		return 0, &SetupError{Step: "creating status pipe", Err: err}
	}
	stdin, stdout, stderr, err := p.Stdio(spec.Stdin, spec.Stdout, spec.Stderr)
	if err != nil {
		return 0, &SetupError{Step: "connecting stdio", Err: err}
	}
	sock, stubSock, err := listenerSocket()
	if err != nil {
		return 0, &SetupError{Step: "creating the listener socket", Err: err}
	}
	defer unix.Close(sock)
	p.AddChildEnd(stubSock)
	// Fds the caller passed keep their numbers; the two pipes and the
	// socket follow.
	extra := []*os.File{specR, statusW, stubSock}
	if n := len(wire.KeepFDs); n > 0 {
		top := wire.KeepFDs[n-1]
		extra = make([]*os.File, top-2, top)
		for i, fd := range wire.KeepFDs {
			extra[fd-3] = passed[i]
		}
		extra = append(extra, specR, statusW, stubSock)
	}
	specFD := 3 + len(extra) - 3
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{os.Args[0], StubArg, strconv.Itoa(specFD), strconv.Itoa(specFD + 1), strconv.Itoa(specFD + 2)},
		Env:         stubEnv,
		Stdin:       stdin,
		Stdout:      stdout,
		Stderr:      stderr,
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}

	t := newTracer(nixDir, !spec.NoSeccomp)
	t.listenerSock = sock
	defer t.sockets.close()
	defer quietStops()()
	started, traced := false, false
	var status []byte
	var statusErr, loopErr error
	_, err = proc.RunHookReaping(cmd, func(child *os.Process) error {
		started = true
		if err := t.seize(child.Pid); err != nil {
			_ = child.Kill()
			return &SetupError{Step: stepSeize, Err: err}
		}
		traced = true
		p.CloseChildEnds()
		// The status pipe is read aside: this thread must serve the
		// stub's stops meanwhile.
		statusDone := make(chan struct{})
		go func() {
			defer close(statusDone)
			status, statusErr = io.ReadAll(statusR)
			if len(status) > 0 && status[0] == execMarker && len(status) == 1 {
				p.StartStdin()
			}
		}()
		werr := proc.WriteAll(specW, wire.encode())
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
		if werr != nil && len(status) == 0 {
			return &SetupError{Step: "sending spec to the stub", Err: werr}
		}
		return nil
	})
	p.CloseChildEnds()
	copyErr := p.Wait()
	switch {
	case !started:
		return 0, &SetupError{Step: stepStub, Err: err}
	case !traced:
		return 0, err
	case loopErr != nil:
		return 0, fmt.Errorf("tracing %s: %w (the traced processes were killed)", argv0(spec), loopErr)
	case statusErr != nil:
		return 0, &SetupError{Step: "reading stub status", Err: statusErr}
	case len(status) == 0 && t.rootDone && t.rootWS.Signaled():
		return t.rootWS, nil // killed during set-up (^C): end the same way
	case len(status) == 0:
		return 0, &SetupError{Step: stepStub, Err: fmt.Errorf("%w: %s", errStubDied, proc.DescribeStatus(t.rootWS))}
	case status[0] != execMarker:
		return 0, decodeFailure(status)
	case len(status) > 1:
		return 0, decodeFailure(status[1:])
	}
	var se *SetupError
	if errors.As(err, &se) {
		return 0, err
	}
	return t.rootWS, copyErr
}

// argv0 names the program in messages.
func argv0(s Spec) string {
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

// stubEnv is the helper's own environment (see proc.HelperEnv).
var stubEnv = proc.HelperEnv()

// resolveDir returns dir as an absolute path without symlinks: the
// tracer compares host paths with it.
func resolveDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", unix.ENOTDIR
	}
	return real, nil
}
