package ptrace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
	"github.com/np-portable/np/ptrace/systable"
)

// StubArg is the hidden argv[1] with which Run re-executes /proc/self/exe
// as the stub: the child that is seized by the tracer, installs the
// seccomp filter (unless disabled) and execs the program. main calls Stub
// when it sees it.
const StubArg = "__np_ptrace_stub"

// Steps of the set-up that callers and Diagnose recognise.
const (
	stepSeize  = "attaching to the program with ptrace"
	stepFilter = "installing seccomp filter"
	stepStub   = "starting the traced stub"
	// stepProbeCalls: traced calls of the probe failed; the runtime
	// would fail the same way for a real program.
	stepProbeCalls = "making traced calls"
)

// errStubDied: the stub closed the status pipe without a word.
var errStubDied = errors.New("traced stub died before exec")

// stubHelper is the stub to package launch, which carries the spec and
// status between Run and Stub (see launch's doc). After the two pipes the
// stub gets a socket (Helper.ExtraFDs), which carries the notification
// listener to the tracer: listener.go. Run writes the spec once the stub is
// seized; the stub blocks reading it, so it does nothing untraced. The
// status pipe closes at exec (close-on-exec): the stub writes the marker
// right before exec'ing the program, and a failure after it if exec fails.
var stubHelper = &launch.Helper{
	Arg:      StubArg,
	Name:     "stub",
	Caller:   "ptrace.Run",
	Start:    stepStub,
	Died:     errStubDied,
	ExtraFDs: 1,
}

// stubOptions are ptrace's own fields of the spec.
type stubOptions struct {
	NoSeccomp bool
	Notify    systable.NotifyLevel // what the filter sends to the notification server
}

func (o *stubOptions) EncodeWire(e *wire.Encoder) {
	e.Bool(o.NoSeccomp)
	e.Uint(uint64(o.Notify))
}

func (o *stubOptions) DecodeWire(d *wire.Decoder) {
	o.NoSeccomp = d.Bool()
	o.Notify = systable.NotifyLevel(d.Uint())
}

func init() {
	if len(os.Args) > 1 && os.Args[1] == StubArg {
		// Locked during init, the main goroutine stays on the process's
		// first thread: the one Run seizes (other Go threads are not
		// traced), the one the filter is installed on, and the one that
		// calls execve.
		runtime.LockOSThread()
	}
}

// Stub is the re-executed child's entry. It returns nil only for a
// probe whose set-up succeeded (main then exits 0); otherwise it returns
// only on failure, after sending the error to Run (main exits 125, or
// 126/127 for a lookup error).
func Stub() error {
	child, err := stubHelper.NewChild()
	if err != nil {
		return err
	}
	err = stub(child)
	if errors.Is(err, launch.ErrProbeDone) {
		return nil
	}
	if err == nil {
		err = errors.New("ptrace stub: returned without exec'ing the program")
	}
	child.Fail(err) // Run reports it, or quietly falls back
	return err
}

func stub(c *launch.Child) error {
	var opts stubOptions
	spec, err := c.ReadRequest(&opts) // returns once the tracer has seized us
	if err != nil {
		return &launch.SetupError{Step: "reading stub spec", Err: err}
	}
	sockFD := c.Extra[0]
	logrus.SetLevel(logrus.Level(spec.LogLevel))
	if !opts.NoSeccomp {
		listener, err := installTraceFilter(opts.Notify)
		if err != nil {
			return &launch.SetupError{Step: stepFilter, Err: err}
		}
		if listener >= 0 {
			if err := sendFD(sockFD, listener); err != nil {
				// Calls the filter routes to the listener would fail
				// with ENOSYS from now on: start again without seccomp.
				return &launch.SetupError{Step: stepFilter, Err: fmt.Errorf("sending the notification listener: %w", err)}
			}
		}
		// The tracer learns the kernel's stop order from this call (a
		// harmless EEXIST; the filter always traces it: buildFilter's
		// probe), reads its path (so a tracer that cannot read this
		// process's memory fails here, before the program runs) and,
		// told by an unused argument that a listener was sent, takes it
		// from the socket; it sets listenerTaken.
		fdcwd := unix.AT_FDCWD
		_, _, _ = unix.RawSyscall6(unix.SYS_MKDIRAT, uintptr(fdcwd), uintptr(rootDirPtr()), 0, uintptr(listener), uintptr(listenerTakenPtr()), 0)
		if listener >= 0 {
			unix.Close(listener) // the tracer has its own copy, or none
			if listenerTaken == 0 {
				// Calls the filter routes to the listener would fail
				// with ENOSYS from now on: start again without seccomp.
				return &launch.SetupError{Step: stepFilter, Err: errors.New("the tracer could not take the notification listener")}
			}
		}
	}
	unix.Close(sockFD)
	if spec.Probe {
		if !opts.NoSeccomp {
			if err := probeCalls(); err != nil {
				return &launch.SetupError{Step: stepProbeCalls, Err: err}
			}
		}
		return c.ProbeDone()
	}
	env := spec.Env
	if spec.Dir != "" {
		// From here on every path is the guest's: the tracer translates.
		if err := unix.Chdir(spec.Dir); err != nil {
			logrus.Debugf("ptrace: staying in the current directory: %v", err)
		} else {
			env = proc.SetEnv(env, "PWD", spec.Dir)
		}
	}
	file, err := c.Program(spec, env)
	if err != nil {
		return err
	}
	if err := c.Started(); err != nil {
		return &launch.SetupError{Step: "reporting exec", Err: err}
	}
	return proc.Exec(spec.Argv, file, env)
}

// installTraceFilter installs the table's filter on this thread, with a
// notification listener (returned, close-on-exec) at level (the host's,
// decided by the tracer) when the kernel offers one (Linux >= 5.0 with
// seccomp(2)); -1 without.
// Precondition: the OS thread is locked (init did it).
func installTraceFilter(level systable.NotifyLevel) (int, error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("setting no_new_privs: %w", err)
	}
	if level > systable.NotifyNone {
		if prog, err := systable.Filter(level, uint64(uintptr(rootDirPtr()))); err == nil {
			if fd, err := installFilterWithListener(prog); err == nil {
				return fd, nil
			}
		}
	}
	prog, err := systable.Filter(systable.NotifyNone, 0)
	if err != nil {
		return -1, fmt.Errorf("building filter: %w", err)
	}
	return -1, installFilter(prog)
}

// probeCalls makes, traced, the kinds of call a program makes first: a
// stat under /nix (the notification server's, or a ptrace stop's) and a
// directory made and removed there (a call redone with the caller's
// umask). Doctor's probe thus fails wherever the first real command
// would.
func probeCalls() error {
	var st unix.Stat_t
	if err := unix.Stat("/nix/.", &st); err != nil {
		return fmt.Errorf("stat /nix: %w", err)
	}
	dir := "/nix/.np-probe-" + strconv.Itoa(os.Getpid())
	switch err := unix.Mkdir(dir, 0o700); err {
	case nil:
	case unix.EACCES, unix.EPERM, unix.EROFS:
		return nil // the host's answer came back: the call works
	default:
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := unix.Rmdir(dir); err != nil {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}
