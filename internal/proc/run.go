package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// forwarded are the signals np catches while a child runs. np must not die
// of them before the child does (it would lose the child's exit status), and
// a signal meant for "the program" must reach the child.
//
// SIGWINCH is not here: the kernel sends it to the terminal's foreground
// process group, which the child belongs to. SIGTSTP/SIGTTIN/SIGTTOU are not
// here either: they stop np and the child together, as the shell expects.
var forwarded = []os.Signal{
	unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGINT, unix.SIGQUIT,
}

// Run starts cmd and waits for it, forwarding signals to it; see RunHook.
func Run(cmd *exec.Cmd) (syscall.WaitStatus, error) {
	return RunHook(cmd, nil)
}

// RunHook starts cmd, calls started (if not nil) once the child exists, and
// waits for the child to end. It returns the child's wait status; the error
// is non-nil only when cmd could not be started or waited for, or when
// started failed (the child is still reaped first, so a started hook that
// fails must make sure the child ends, e.g. by killing it).
//
// Signals: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are forwarded to the child.
// SIGINT and SIGQUIT are caught (np must outlive the child to report its
// status) but forwarded only when np is not in its terminal's foreground
// process group: when it is, the signal came from the keyboard and the
// kernel already delivered it to the whole group, child included, because
// the child is deliberately left in np's process group (no Setpgid/Setsid).
// Forwarding a second copy is not harmless: programs that count ^C ("press
// ^C again to quit", nix repl, Python's KeyboardInterrupt handlers) would
// see two. The price is that `kill -INT <np>` from elsewhere while np runs
// in a terminal's foreground reaches np only; `kill -INT -<pgid>` works.
// signal.Notify is used, never signal.Ignore: an ignored disposition would
// be inherited through exec and the child's own handlers would never run.
//
// A stopped child is not special: the shell stops and continues the whole
// process group, np included, so np simply keeps waiting.
//
// Parent death: if cmd.SysProcAttr.Pdeathsig is set, it only works if the
// thread that forked stays alive until the child ends (golang/go#27505:
// PR_SET_PDEATHSIG fires when the creating thread exits). RunHook therefore
// locks the calling goroutine to its OS thread from Start to the end of Wait
// when Pdeathsig is set (only then).
func RunHook(cmd *exec.Cmd, started func(*os.Process) error) (syscall.WaitStatus, error) {
	return runHook(cmdChild{cmd}, started, os.Getpid() == 1)
}

// RunStarted is RunHook for a child that start creates by other means
// than exec.Cmd (the ns runtime's init, forked without an exec); start
// returns it, or why it could not.
func RunStarted(start func() (*os.Process, error), started func(*os.Process) error) (syscall.WaitStatus, error) {
	return runHook(&forkedChild{start: start}, started, os.Getpid() == 1)
}

// child is how runHook starts and waits for its child.
type child interface {
	Start() (*os.Process, error)
	// Wait reaps the child; an error means it could not be waited for.
	Wait() (syscall.WaitStatus, error)
	// pdeathsig says the child asked for a parent-death signal.
	pdeathsig() bool
}

type cmdChild struct{ cmd *exec.Cmd }

func (c cmdChild) Start() (*os.Process, error) {
	err := c.cmd.Start()
	return c.cmd.Process, err
}

func (c cmdChild) Wait() (syscall.WaitStatus, error) {
	err := c.cmd.Wait()
	var ws syscall.WaitStatus
	if c.cmd.ProcessState != nil {
		ws, _ = c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return ws, fmt.Errorf("waiting for %s: %w", c.cmd.Path, err)
	}
	return ws, nil
}

func (c cmdChild) pdeathsig() bool {
	return c.cmd.SysProcAttr != nil && c.cmd.SysProcAttr.Pdeathsig != 0
}

type forkedChild struct {
	start func() (*os.Process, error)
	p     *os.Process
}

func (c *forkedChild) Start() (p *os.Process, err error) {
	c.p, err = c.start()
	return c.p, err
}

func (c *forkedChild) Wait() (syscall.WaitStatus, error) {
	st, err := c.p.Wait()
	if err != nil {
		return 0, fmt.Errorf("waiting for pid %d: %w", c.p.Pid, err)
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	return ws, nil
}

func (c *forkedChild) pdeathsig() bool { return false }

func runHook(cmd child, started func(*os.Process) error, reapOrphans bool) (syscall.WaitStatus, error) {
	sigs := make(chan os.Signal, 16)
	defer signal.Stop(sigs)
	// Signals are caught before the child starts, never after: a child
	// that is already running (and may have said so: a prompt, "ready")
	// must get every signal sent to np from then on, and one that arrived
	// between the start and a later signal.Notify would end np by its
	// default action instead (np's death then ends the program's tree).
	// With both runtimes' children forks of np that start at once, that
	// window was no longer theoretical: a test saw it under load. Each
	// catch is a round trip to the runtime's signal thread (0.3 ms for
	// the six, once paid while the child started).
	signal.Notify(sigs, caught()...)
	if cmd.pdeathsig() {
		// Only then: a locked goroutine that blocks hands its P to another
		// thread each time (about a tenth of np's CPU in a short run).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}

	// PID 1 (a container's entrypoint) inherits every orphan of the
	// container: it must reap them all while waiting, or they stay zombies.
	var reaper *Supervisor
	if reapOrphans {
		reaper = NewSupervisor()
	}
	process, err := cmd.Start()
	if err != nil {
		if reaper != nil {
			signal.Stop(reaper.sigs)
		}
		return 0, err
	}
	exited := exitWatch(process.Pid)
	done := make(chan struct{})
	forwarding := make(chan struct{})
	go func() {
		defer close(forwarding)
		forward(process, sigs, done)
	}()

	var hookErr error
	if started != nil {
		hookErr = started(process)
	}
	var ws syscall.WaitStatus
	var waitErr error
	if reaper != nil {
		if exited != nil {
			exited.Close()
		}
		ws = reaper.Wait(process.Pid)
		_, _ = cmd.Wait() // releases cmd's resources; the status is ws
	} else {
		awaitExit(exited)
		ws, waitErr = cmd.Wait()
	}
	close(done)
	<-forwarding

	if hookErr != nil {
		return ws, hookErr
	}
	return ws, waitErr
}

// Forward catches the signals RunHook forwards and sends them to the pid
// that arrives on pid (with kill(2): no *os.Process, whose pidfd check
// costs a fork of its own), until stop is called: for a runtime that
// starts its child itself. It catches them in the background: each
// signal.Notify is a round trip to the runtime's signal thread, which a
// locked caller pays with thread hand-offs. A signal before that ends np
// by its default action, as one before the child started would.
func Forward(pid <-chan int) (stop func()) {
	done := make(chan struct{})
	forwarding := make(chan struct{})
	go func() {
		defer close(forwarding)
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, caught()...)
		defer signal.Stop(sigs)
		select {
		case <-done:
		case p, ok := <-pid:
			if ok {
				forwardTo(p, func(sig os.Signal) error { return unix.Kill(p, sig.(syscall.Signal)) }, sigs, done)
			}
		}
	}()
	return func() {
		close(done)
		<-forwarding
	}
}

// caught returns the forwarded signals that np did not inherit as ignored.
// An ignored signal must stay ignored (nohup's SIGHUP, SIGINT of a
// background job in a script): Notify would install a handler, and the
// child would then start with the default action instead of SIG_IGN. (The
// Go runtime keeps only SIGHUP and SIGINT ignored at start-up; other
// inherited SIG_IGNs are lost in any Go program.)
func caught() []os.Signal {
	sigs := make([]os.Signal, 0, len(forwarded))
	for _, sig := range forwarded {
		if !signal.Ignored(sig) {
			sigs = append(sigs, sig)
		}
	}
	return sigs
}

// forward sends the signals arriving on sigs to p until done is closed.
func forward(p *os.Process, sigs <-chan os.Signal, done <-chan struct{}) {
	forwardTo(p.Pid, p.Signal, sigs, done)
}

// forwardTo is forward with send delivering a signal to pid.
func forwardTo(pid int, send func(os.Signal) error, sigs <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case sig := <-sigs:
			if (sig == unix.SIGINT || sig == unix.SIGQUIT) && inTerminalForeground() {
				logrus.Tracef("not forwarding %v: the terminal sent it to the child too", sig)
				continue
			}
			logrus.Tracef("forwarding %v to pid %d", sig, pid)
			// ESRCH (already gone) is fine: its exit status is on the way.
			_ = send(sig)
		}
	}
}

// inTerminalForeground reports whether this process belongs to the
// foreground process group of its controlling terminal.
func inTerminalForeground() bool {
	tty, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // no controlling terminal: the signal was sent with kill
	}
	defer unix.Close(tty)
	fg, err := unix.IoctlGetInt(tty, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// Forwarded lists the signals a supervisor forwards to its child: the
// ones RunHook catches (see caught), for a supervisor that catches them
// without the Go runtime (the ns init reads them from a signalfd).
func Forwarded() []syscall.Signal {
	var sigs []syscall.Signal
	for _, sig := range caught() {
		sigs = append(sigs, sig.(syscall.Signal))
	}
	return sigs
}
