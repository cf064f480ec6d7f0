package nsbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// InitArg is the hidden argv[1] with which Run re-executes the np binary as
// the sandbox init. main must call Init first thing when it sees it.
const InitArg = "__np_nsbox_init"

// Init is the sandbox init: it runs inside the new user and mount
// namespaces that Run created, reads the spec from the parent, builds the
// sandbox root, and starts the program as its child. It stays the
// program's parent and the reaper of its whole tree (see proc.Supervise):
// it forwards signals, reaps orphans, and ends the tree when the program
// ends or when np dies, even by SIGKILL.
//
// It returns the program's wait status with a nil error once the program
// has ended (main then ends the same way: the same exit code, or death by
// the same signal), or a zero status for a probe whose set-up succeeded.
// Otherwise it returns a failure, after sending it to the parent, which
// turns it into Run's *launch.SetupError, *WorkDirError or lookup error; main
// then exits 125 (126 or 127 for a lookup error).
// Once the parent has the error, Init points fd 2 at /dev/null: reporting
// it is the parent's job, and the parent may quietly fall back to another
// runtime, so main's own "np: ..." line must not reach the user.
//
// Capabilities are per thread, so the init locks its goroutine to one OS
// thread from the capability drop until the program is forked, and
// nothing in between parks the goroutine. (Locked from its start, each
// park made the runtime hand the P to another thread and back: with the
// template thread LockOSThread starts, 4 of the init's 7 threads came from
// that (strace -k). syscall.AllThreadsSyscall, which drops them on every
// thread, spins in sched_yield while it waits for them: hundreds of calls
// per run on a loaded machine.)
func Init() (syscall.WaitStatus, error) {
	child, err := initHelper.NewChild()
	if err != nil {
		return 0, err
	}
	// Before anything changes directory.
	callerCwd, err := openCallerCwd()
	if err != nil {
		callerCwd = -1
	}
	err = initSandbox(child, callerCwd)
	var ended *programEnded
	switch {
	case errors.Is(err, launch.ErrProbeDone):
		return 0, nil
	case errors.As(err, &ended):
		return ended.ws, nil
	case errors.Is(err, errLauncherGone):
		return 0, err // nobody is left to tell
	case err == nil: // initSandbox returns only on failure
		err = errors.New("sandbox init: returned without running the program")
	}
	child.Fail(err)
	return 0, err
}

// initSandbox does Init's work and returns why it could not exec.
func initSandbox(c *launch.Child, callerCwd int) error {
	var opts initOptions
	spec, err := c.ReadRequest(&opts)
	if err != nil {
		return &launch.SetupError{Step: "reading sandbox spec", Err: err}
	}
	if err := checkOwnNamespace(); err != nil {
		return &launch.SetupError{Step: "checking user namespace", Err: err}
	}
	logrus.SetLevel(logrus.Level(spec.LogLevel))

	start := time.Now()
	scratch := scratchPlan()
	if opts.forcePivotFallback {
		scratch = withPivotFallback(scratch)
	}
	if err := runPlan(scratch); err != nil {
		return err
	}
	entries, err := listHostRoot(oldRoot)
	if err != nil {
		return &launch.SetupError{Step: "listing host root", Err: err}
	}
	if err := runPlan(rootPlan(entries, spec.NixDir)); err != nil {
		return err
	}
	logrus.Debugf("nsbox: sandbox root with %d host entries set up in %v", len(entries), time.Since(start))

	// Before the thread is locked: catching signals is a round trip to the
	// runtime's signal thread for each, which parks this goroutine.
	var gone <-chan struct{}
	var sup *proc.Supervisor
	if !spec.Probe {
		gone = proc.WaitGone(c.Status)
		sup = proc.NewSupervisor(true)
		sup.KeepCaught() // the init ends right after the program
	}
	// From here on, only the user's own rights: drop capabilities before
	// the cwd and PATH checks so those see what the program will see.
	runtime.LockOSThread()
	if err := dropCapabilities(); err != nil {
		return &launch.SetupError{Step: "dropping capabilities", Err: err}
	}
	env := spec.Env
	named, err := enterWorkDir(spec.Dir, callerCwd)
	if err != nil {
		return err
	}
	if named {
		env = proc.SetEnv(env, "PWD", spec.Dir)
	}
	_ = unix.Close(callerCwd)

	if spec.Probe {
		return c.ProbeDone()
	}

	file, err := c.Program(spec, env)
	if err != nil {
		return err
	}
	// The init stays as the program's parent and the reaper of its whole
	// tree: when np dies, even by SIGKILL, it ends the tree; when the
	// program ends, it ends what the program left running (see README,
	// "Processes after np ends").
	if err := proc.BecomeSubreaper(); err != nil {
		return &launch.SetupError{Step: "becoming the program's reaper", Err: err}
	}
	select {
	case <-gone:
		return errLauncherGone // np died during the set-up: start nothing
	default:
	}
	pid, err := proc.StartProgram(spec.Argv, file, env, spec.KeepFDs)
	if err != nil {
		return err
	}
	// The program runs with the dropped capabilities; waiting needs no
	// particular thread, and a locked one that blocks hands its P to
	// another thread every time.
	runtime.UnlockOSThread()
	if err := c.Started(); err != nil {
		sup.Wait(pid, closed) // np is gone: end the program at once
		return &launch.SetupError{Step: "reporting exec", Err: err}
	}
	ws, ok := sup.Wait(pid, gone)
	if !ok {
		return errLauncherGone
	}
	return &programEnded{ws: ws}
}

// closed is a channel that is always closed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// errLauncherGone: np died; the init ended the program's tree.
var errLauncherGone = errors.New("the launcher is gone")

// programEnded carries the program's wait status from initSandbox to Init.
type programEnded struct{ ws syscall.WaitStatus }

func (p *programEnded) Error() string { return "program ended: " + proc.DescribeStatus(p.ws) }

// checkOwnNamespace makes sure this process runs in the single-id user
// namespace Run creates: the plan pivots and mounts over /tmp, which done
// by real root in the host's namespaces (np started by hand with InitArg)
// would wreck the host.
func checkOwnNamespace() error {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return err
	}
	if f := strings.Fields(string(b)); len(f) != 3 || f[2] != "1" {
		return fmt.Errorf("uid_map is %q, not a single mapped id: not started by nsbox.Run", strings.TrimSpace(string(b)))
	}
	return nil
}

// listHostRoot lists dir by d_type only: stat on a dead NFS top-level dir
// can hang (Go lstats only entries whose d_type is DT_UNKNOWN). Symlinks
// that vanish before readlink are skipped like any entry that vanishes.
func listHostRoot(dir string) ([]hostEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]hostEntry, 0, len(dents))
	for _, d := range dents {
		e := hostEntry{Name: d.Name(), Kind: entryFile}
		switch t := d.Type(); {
		case t&os.ModeSymlink != 0:
			e.Kind = entrySymlink
			e.Link, err = os.Readlink(dir + "/" + e.Name)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil {
				return nil, err
			}
		case t.IsDir():
			e.Kind = entryDir
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// dropCapabilities clears the ambient and inheritable sets of this thread,
// and for a non-root user the permitted and effective sets too, so the
// program runs with exactly the user's rights (root in the namespace gets
// its full set back at execve anyway, as root on the host would have).
// Precondition: the OS thread is locked, and it is the one that will fork
// the program.
func dropCapabilities() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_CAP_AMBIENT_CLEAR_ALL: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 uses two
	if unix.Geteuid() == 0 {
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("capget: %w", err)
		}
		data[0].Inheritable, data[1].Inheritable = 0, 0
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
