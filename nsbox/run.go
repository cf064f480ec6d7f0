package nsbox

import (
	"errors"
	"os"
	"runtime"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// stepCreate is the launch.SetupError.Step of a refused clone or uid/gid map write.
const stepCreate = "creating user namespace"

// Run forks the sandbox init (fork_unsafe.go: a fork of np that never
// execs np) into new user and mount namespaces, and waits for it,
// forwarding signals to it (proc.RunStarted). The init sets the sandbox
// up, starts the program as its child and ends the way it ends. Run
// returns the program's wait status.
//
// The program starts in spec.Dir by name (PWD is then set to it), or, when
// the name leads nowhere inside, in the inherited directory itself (np's
// own, which the init inherits). Under /nix a name leading to another
// directory than the inherited one is a *WorkDirError: never a silent
// substitute.
//
// If the program cannot start in the working directory, the error is a
// *WorkDirError. If the sandbox could not be set up, it returns a *launch.SetupError, the program
// never started and Stdin was not read: the caller can fall back to another
// runtime. If Argv[0] cannot be found or run inside, the error is a
// *proc.LookupError wrapping proc.ErrNotFound or proc.ErrNotExecutable.
// When the program did run, a non-nil error can only be a failure to copy
// its output to a Stdout/Stderr that is not a file; the status is valid.
// If the init is killed by a signal during set-up (^C reaches it too), Run
// returns that status and no error, so np ends the same way.
//
// If np is killed, the init notices (its end of the status pipe loses its
// reader) and kills the program's whole tree.
func Run(spec launch.Spec) (syscall.WaitStatus, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("running sandbox: no program given")
	}
	return run(&spec, false, initOptions{})
}

// Probe checks that a sandbox can really be created and set up here: it
// runs the whole set-up with an empty NixDir and stops right before exec.
// Clone succeeding is not enough (Ubuntu 24.04's AppArmor lets it through
// and refuses the first mount). It returns nil or a *launch.SetupError.
func Probe() error {
	return initHelper.Probe(func(nixDir string) (syscall.WaitStatus, error) {
		return run(&launch.Spec{NixDir: nixDir, Dir: "/"}, true, initOptions{})
	})
}

// initHelper is the sandbox init to package launch, which makes its pipes
// and reads its status (see launch's doc).
var initHelper = &launch.Helper{
	Name:  "sandbox init",
	Start: "running sandbox init",
	Died:  errInitDied,
}

// errInitDied: the init closed the status pipe without a word.
var errInitDied = errors.New("sandbox init died before exec")

// initOptions are the tests' own settings of a run.
type initOptions struct {
	// forcePivotFallback: take the initramfs path even where pivot_root
	// works.
	forcePivotFallback bool
	// scanChildren: find the init's children as on a kernel without
	// /proc/PID/task/TID/children.
	scanChildren bool
}

// run forks the init for spec (a probe: stop right before exec) with
// opts.
func run(spec *launch.Spec, probe bool, opts initOptions) (syscall.WaitStatus, error) {
	var l launch.Launch
	defer l.CloseAll()
	if err := l.Prepare(initHelper, spec, probe); err != nil {
		return 0, err
	}
	// The host's root as the init will find it at /oldroot: its mount
	// namespace starts as a copy of np's. An entry that vanishes in
	// between is skipped there.
	entries, err := listHostRoot("/")
	if err != nil {
		return 0, &launch.SetupError{Step: "listing host root", Err: err}
	}
	scratch := scratchPlan()
	if opts.forcePivotFallback {
		scratch = withPivotFallback(scratch)
	}
	ops := append(scratch, rootPlan(entries, l.Request.NixDir)...)
	if logrus.IsLevelEnabled(logrus.TraceLevel) {
		for _, o := range ops {
			logrus.Tracef("nsbox: %s", o.opError(0).call())
		}
	}
	stdio, extra := l.ChildFiles()
	img, err := newImage(&l.Request, ops, stdio, extra)
	if err != nil {
		return 0, &launch.SetupError{Step: "preparing sandbox init", Err: err}
	}
	img.scanChildren = opts.scanChildren
	l.Decode = func(status []byte) error { return img.decode(&l.Request, ops, status) }

	started := false
	ws, err := proc.RunStarted(func() (*os.Process, error) {
		pid, errno := forkInit(img)
		runtime.KeepAlive(img)
		if errno != 0 {
			return nil, errno
		}
		return os.FindProcess(pid)
	}, func(child *os.Process) error {
		started = true
		// Our copies of the child's ends must go, or EOF never comes.
		l.CloseChildEnds()
		if l.ReadStatus() != nil {
			// Whether the program runs is unknown: make sure it does not.
			_ = child.Kill()
		}
		return nil
	})
	// Whatever happened, the caller's writers are not to be touched once
	// Run returns: end the output copies (the child's ends are all closed
	// now, so they reach EOF).
	l.CloseChildEnds()
	copyErr := l.Wait()
	switch {
	case err != nil && !started:
		return 0, startError(err)
	case err != nil:
		return 0, err
	}
	// Killed during set-up (^C from the terminal reaches it too), Result
	// returns the init's status and no error: np ends the same way, no
	// fallback.
	if ws, err = l.Result(ws); err != nil {
		return 0, err
	}
	return ws, copyErr
}

// startError classifies a failed fork: (by far the commonest) the kernel
// refusing the user namespace, or a process limit.
func startError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.EPERM, unix.EACCES, unix.EINVAL, unix.ENOSPC, unix.EUSERS:
			// What the kernel answers when it refuses a user namespace or
			// its maps (see Diagnose).
			return &launch.SetupError{Step: stepCreate, Err: errno}
		}
		return &launch.SetupError{Step: "starting sandbox init", Err: errno}
	}
	return &launch.SetupError{Step: stepCreate, Err: err}
}
