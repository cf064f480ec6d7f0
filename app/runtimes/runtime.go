package runtimes

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/nsbox"
	"github.com/np-portable/np/ptrace"
)

// Runtime makes a Nix directory appear at /nix for the programs it runs.
type Runtime interface {
	Name() config.RuntimeName
	// nixDir is the host directory that programs see as /nix.
	NixDir() string
	// run runs j to completion; install steps and probes use it. The
	// runtime sets j.NixDir.
	Run(j launch.Spec) (syscall.WaitStatus, error)
	// exec runs the user's program as np's last act.
	Exec(j launch.Spec) (syscall.WaitStatus, error)
	// check says whether the runtime can work here at all; it costs
	// milliseconds, so it runs only where a failure would be expensive
	// (before a first install) or where it is the question (np doctor).
	Check() error
	// explain turns an error of check, run or exec that happened before the
	// program started into a cause word and one line naming the fix.
	Explain(err error) (cause, detail string)
	// buildSandbox says whether Nix's own build sandbox can work inside
	// this runtime at all (a probe decides whether it really does).
	BuildSandbox() bool
}

// BeforeStart reports whether err means the program never started, so
// another runtime may still run it: a refused sandbox or tracer set-up.
// A program that was not found or not executable is not such a failure:
// every runtime would say the same.
func BeforeStart(err error) bool {
	var setupErr *launch.SetupError
	return errors.As(err, &setupErr)
}

// nsRuntime: new user and mount namespaces with the data dir bound at /nix.
type nsRuntime struct{ dir string }

func (r nsRuntime) Name() config.RuntimeName { return config.NS }
func (r nsRuntime) NixDir() string           { return r.dir }
func (r nsRuntime) Check() error             { return nsbox.Probe() }
func (r nsRuntime) BuildSandbox() bool       { return true }
func (r nsRuntime) Exec(j launch.Spec) (syscall.WaitStatus, error) {
	return r.Run(j)
}
func (r nsRuntime) Run(j launch.Spec) (syscall.WaitStatus, error) {
	j.NixDir = r.dir
	return nsbox.Run(j)
}
func (r nsRuntime) Explain(err error) (string, string) {
	d := nsbox.Diagnose(err)
	what := "user namespaces are unavailable"
	if d.Cause == "unknown" {
		what = "the namespace sandbox could not be set up"
	}
	return d.Cause, fmt.Sprintf("%s (%v: %s)", what, err, d.Detail)
}

// ptraceRuntime: a tracer rewriting the paths of system calls, for hosts
// that refuse user namespaces.
type ptraceRuntime struct {
	dir       string
	noSeccomp bool
	noNotify  bool // seccomp without user notifications
}

func (r ptraceRuntime) Name() config.RuntimeName { return config.Ptrace }
func (r ptraceRuntime) NixDir() string           { return r.dir }
func (r ptraceRuntime) Check() error             { return ptrace.Probe() }

// buildSandbox: Nix's build sandbox needs namespaces, which is why this
// runtime was chosen in the first place.
func (r ptraceRuntime) BuildSandbox() bool { return false }
func (r ptraceRuntime) Exec(j launch.Spec) (syscall.WaitStatus, error) {
	return r.Run(j)
}
func (r ptraceRuntime) Run(j launch.Spec) (syscall.WaitStatus, error) {
	j.NixDir = r.dir
	return ptrace.Run(j, ptrace.Options{NoSeccomp: r.noSeccomp, NoNotify: r.noNotify})
}
func (r ptraceRuntime) Explain(err error) (string, string) {
	d := ptrace.Diagnose(err)
	return d.Cause, fmt.Sprintf("ptrace cannot trace here (%v: %s)", err, d.Detail)
}

// Native: the host already has a /nix/store this user may write, so
// programs run directly, without any sandbox.
type Native struct{}

func (Native) Name() config.RuntimeName { return config.Native }
func (Native) NixDir() string           { return "/nix" }
func (Native) BuildSandbox() bool       { return true }
func (Native) Check() error {
	if ok, why := nativeUsable(); !ok {
		return errors.New(why)
	}
	return nil
}
func (Native) Explain(err error) (string, string) { return "no_writable_nix", err.Error() }

func (Native) Run(j launch.Spec) (syscall.WaitStatus, error) {
	path, err := proc.LookPathEnv(j.Argv[0], j.Env)
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{Path: path, Args: j.Argv, Env: j.Env, Dir: j.Dir,
		Stdin: j.Stdin, Stdout: j.Stdout, Stderr: j.Stderr}
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	for _, fd := range j.PassFDs { // at the same numbers; gaps stay closed
		for len(cmd.ExtraFiles) <= fd-3 {
			cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
		}
		cmd.ExtraFiles[fd-3] = os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
	}
	return proc.Run(cmd)
}

// exec replaces np with the program: status, signals and the terminal are
// then the program's own with no np in between.
func (Native) Exec(j launch.Spec) (syscall.WaitStatus, error) {
	if os.Getpid() == 1 {
		// A container's entrypoint: np stays as PID 1 to reap orphans and
		// forward signals (proc.RunHook), which a program rarely does.
		return Native{}.Run(j)
	}
	path, err := proc.LookPathEnv(j.Argv[0], j.Env)
	if err != nil {
		return 0, err
	}
	if j.Dir != "" {
		if err := os.Chdir(j.Dir); err != nil {
			return 0, fmt.Errorf("entering working directory %s: %w; cd to another directory", j.Dir, err)
		}
	}
	if err := proc.CloseExtraFDs(j.PassFDs...); err != nil {
		return 0, err
	}
	return 0, proc.Exec(j.Argv, path, j.Env)
}

// nativeUsable says whether the host's /nix can serve as np's Nix directory:
// a writable store and state directory (root in a container with /nix, a
// single-user Nix install, or np running inside np).
func nativeUsable() (bool, string) {
	st, err := os.Stat("/nix/store")
	if err != nil || !st.IsDir() {
		return false, "the host has no /nix/store"
	}
	if err := unix.Access("/nix/store", unix.W_OK|unix.X_OK); err != nil {
		return false, "/nix/store exists but is not writable by this user (a multi-user Nix install)"
	}
	for _, d := range []string{"/nix/var/nix", "/nix/var", "/nix"} {
		if _, err := os.Stat(d); err == nil {
			if unix.Access(d, unix.W_OK|unix.X_OK) != nil {
				return false, d + " is not writable by this user"
			}
			break
		}
	}
	return true, "/nix/store exists and is writable by this user"
}
