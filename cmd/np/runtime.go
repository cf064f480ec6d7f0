package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/nsbox"
	"github.com/np-portable/np/ptrace"
)

// runtime makes a Nix directory appear at /nix for the programs it runs.
type runtime interface {
	name() runtimeName
	// nixDir is the host directory that programs see as /nix.
	nixDir() string
	// run runs s to completion; install steps and probes use it. The
	// runtime sets s.NixDir.
	run(s launch.Spec) (syscall.WaitStatus, error)
	// exec runs the user's program as np's last act.
	exec(s launch.Spec) (syscall.WaitStatus, error)
	// check says whether the runtime can work here at all; it costs
	// milliseconds, so it runs only where a failure would be expensive
	// (before a first install) or where it is the question (np doctor).
	check() error
	// explain turns an error of check, run or exec that happened before the
	// program started into a cause word and one line naming the fix.
	explain(err error) (cause, detail string)
	// buildSandbox says whether Nix's own build sandbox can work inside
	// this runtime at all (a probe decides whether it really does).
	buildSandbox() bool
}

// beforeStart reports whether err means the program never started, so
// another runtime may still run it: a refused sandbox or tracer set-up.
// A program that was not found or not executable is not such a failure:
// every runtime would say the same.
func beforeStart(err error) bool {
	var setupErr *launch.SetupError
	return errors.As(err, &setupErr)
}

// nsRuntime: new user and mount namespaces with the data dir bound at /nix.
type nsRuntime struct{ dir string }

func (r nsRuntime) name() runtimeName  { return runtimeNS }
func (r nsRuntime) nixDir() string     { return r.dir }
func (r nsRuntime) check() error       { return nsbox.Probe() }
func (r nsRuntime) buildSandbox() bool { return true }
func (r nsRuntime) exec(s launch.Spec) (syscall.WaitStatus, error) {
	return r.run(s)
}
func (r nsRuntime) run(s launch.Spec) (syscall.WaitStatus, error) {
	s.NixDir = r.dir
	return nsbox.Run(s)
}
func (r nsRuntime) explain(err error) (string, string) {
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

func (r ptraceRuntime) name() runtimeName { return runtimePtrace }
func (r ptraceRuntime) nixDir() string    { return r.dir }
func (r ptraceRuntime) check() error      { return ptrace.Probe() }

// buildSandbox: Nix's build sandbox needs namespaces, which is why this
// runtime was chosen in the first place.
func (r ptraceRuntime) buildSandbox() bool { return false }
func (r ptraceRuntime) exec(s launch.Spec) (syscall.WaitStatus, error) {
	return r.run(s)
}
func (r ptraceRuntime) run(s launch.Spec) (syscall.WaitStatus, error) {
	s.NixDir = r.dir
	return ptrace.Run(s, ptrace.Options{NoSeccomp: r.noSeccomp, NoNotify: r.noNotify})
}
func (r ptraceRuntime) explain(err error) (string, string) {
	d := ptrace.Diagnose(err)
	return d.Cause, fmt.Sprintf("ptrace cannot trace here (%v: %s)", err, d.Detail)
}

// nativeRuntime: the host already has a /nix/store this user may write, so
// programs run directly, without any sandbox.
type nativeRuntime struct{}

func (nativeRuntime) name() runtimeName  { return runtimeNative }
func (nativeRuntime) nixDir() string     { return "/nix" }
func (nativeRuntime) buildSandbox() bool { return true }
func (nativeRuntime) check() error {
	if ok, why := nativeUsable(); !ok {
		return errors.New(why)
	}
	return nil
}
func (nativeRuntime) explain(err error) (string, string) { return "no_writable_nix", err.Error() }

func (nativeRuntime) run(s launch.Spec) (syscall.WaitStatus, error) {
	path, err := proc.LookPathEnv(s.Argv[0], s.Env)
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{Path: path, Args: s.Argv, Env: s.Env, Dir: s.Dir,
		Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr}
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	for _, fd := range s.PassFDs { // at the same numbers; gaps stay closed
		for len(cmd.ExtraFiles) <= fd-3 {
			cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
		}
		cmd.ExtraFiles[fd-3] = os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
	}
	return proc.Run(cmd)
}

// exec replaces np with the program: status, signals and the terminal are
// then the program's own with no np in between.
func (nativeRuntime) exec(s launch.Spec) (syscall.WaitStatus, error) {
	if os.Getpid() == 1 {
		// A container's entrypoint: np stays as PID 1 to reap orphans and
		// forward signals (proc.RunHook), which a program rarely does.
		return nativeRuntime{}.run(s)
	}
	path, err := proc.LookPathEnv(s.Argv[0], s.Env)
	if err != nil {
		return 0, err
	}
	if s.Dir != "" {
		if err := os.Chdir(s.Dir); err != nil {
			return 0, fmt.Errorf("entering working directory %s: %w; cd to another directory", s.Dir, err)
		}
	}
	if err := proc.CloseExtraFDs(s.PassFDs...); err != nil {
		return 0, err
	}
	return 0, proc.Exec(s.Argv, path, s.Env)
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
