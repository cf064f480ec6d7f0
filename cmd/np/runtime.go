package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"np/internal/proc"
	"np/nsbox"
	"np/ptrace"
)

// job is one program to run inside np's environment.
type job struct {
	argv           []string
	env            []string
	dir            string
	stdin          io.Reader // nil: np's own
	stdout, stderr io.Writer // nil: np's own
	passFDs        []int     // descriptors >= 3 to hand on at the same numbers
}

// runtime makes a Nix directory appear at /nix for the programs it runs.
type runtime interface {
	name() runtimeName
	// nixDir is the host directory that programs see as /nix.
	nixDir() string
	// run runs j to completion; install steps and probes use it.
	run(j job) (syscall.WaitStatus, error)
	// exec runs the user's program as np's last act.
	exec(j job) (syscall.WaitStatus, error)
	// check says whether the runtime can work here at all.
	check() error
}

// nsRuntime: new user and mount namespaces with the data dir bound at /nix.
type nsRuntime struct{ dir string }

func (r nsRuntime) name() runtimeName { return runtimeNS }
func (r nsRuntime) nixDir() string    { return r.dir }
func (r nsRuntime) check() error      { return nsbox.Probe() }
func (r nsRuntime) exec(j job) (syscall.WaitStatus, error) {
	return r.run(j)
}
func (r nsRuntime) run(j job) (syscall.WaitStatus, error) {
	return nsbox.Run(nsbox.Spec{
		NixDir: r.dir, Argv: j.argv, Env: j.env, Dir: j.dir,
		Stdin: j.stdin, Stdout: j.stdout, Stderr: j.stderr, PassFDs: j.passFDs,
	})
}

// ptraceRuntime: the ptrace tracer rewrites paths under /nix to the data
// dir (no namespaces needed). NP_PTRACE_NO_SECCOMP=1 traces every call.
type ptraceRuntime struct{ dir string }

func (r ptraceRuntime) name() runtimeName { return runtimePtrace }
func (r ptraceRuntime) nixDir() string    { return r.dir }
func (r ptraceRuntime) check() error      { return ptrace.Probe() }
func (r ptraceRuntime) exec(j job) (syscall.WaitStatus, error) {
	return r.run(j)
}
func (r ptraceRuntime) run(j job) (syscall.WaitStatus, error) {
	return ptrace.Run(ptrace.Spec{
		NixDir: r.dir, Argv: j.argv, Env: j.env, Dir: j.dir,
		Stdin: j.stdin, Stdout: j.stdout, Stderr: j.stderr, PassFDs: j.passFDs,
		NoSeccomp: os.Getenv("NP_PTRACE_NO_SECCOMP") == "1",
	})
}

// nativeRuntime: the host already has a /nix/store this user may write, so
// programs run directly, without any sandbox.
type nativeRuntime struct{}

func (nativeRuntime) name() runtimeName { return runtimeNative }
func (nativeRuntime) nixDir() string    { return "/nix" }
func (nativeRuntime) check() error      { return nil } // nativeUsable decided

func (nativeRuntime) run(j job) (syscall.WaitStatus, error) {
	path, err := proc.LookPathEnv(j.argv[0], j.env)
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{Path: path, Args: j.argv, Env: j.env, Dir: j.dir,
		Stdin: j.stdin, Stdout: j.stdout, Stderr: j.stderr}
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	return proc.Run(cmd)
}

// exec replaces np with the program: status, signals and the terminal are
// then the program's own with no np in between.
func (nativeRuntime) exec(j job) (syscall.WaitStatus, error) {
	path, err := proc.LookPathEnv(j.argv[0], j.env)
	if err != nil {
		return 0, err
	}
	if j.dir != "" {
		if err := os.Chdir(j.dir); err != nil {
			logrus.Debugf("staying in the current directory: %v", err)
		}
	}
	if err := proc.CloseExtraFDs(j.passFDs...); err != nil {
		return 0, err
	}
	return 0, proc.Exec(j.argv, path, j.env)
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

// errPtraceMissing is what choosing the ptrace runtime gives until it lands.
var errPtraceMissing = errors.New("the ptrace runtime is not part of this np yet")

// selectRuntime picks the runtime for this run. For auto the choice is
// re-made on every run (it costs two access(2) calls). The namespace runtime
// is probed only before a first install (Options.Check); after that, its
// own set-up is the probe: a failure comes back before the program starts,
// and explainSetupFailure names the cause.
func selectRuntime(c *config) (runtime, string, error) {
	ns := nsRuntime{dir: filepath.Join(c.DataDir, "nix")}
	switch c.Runtime {
	case runtimeNative:
		if ok, why := nativeUsable(); !ok {
			return nil, "", fmt.Errorf("NP_RUNTIME=native needs a writable /nix/store, but %s; unset NP_RUNTIME to let np choose", why)
		}
		return nativeRuntime{}, "NP_RUNTIME=native", nil
	case runtimeNS:
		return ns, "NP_RUNTIME=ns", nil
	case runtimePtrace:
		return ptraceRuntime{dir: filepath.Join(c.DataDir, "nix")}, "NP_RUNTIME=ptrace", nil
	}
	ok, why := nativeUsable()
	logrus.Tracef("auto: native runtime usable=%v: %s", ok, why)
	if ok {
		return nativeRuntime{}, why, nil
	}
	return ns, "user namespaces are tried first when the host has no usable /nix", nil
}

// explainSetupFailure turns a namespace set-up failure into the one line a
// user needs: the cause and what to do.
func explainSetupFailure(c *config, err error) error {
	var se *nsbox.SetupError
	if !errors.As(err, &se) {
		return err
	}
	d := nsbox.Diagnose(err)
	what := "user namespaces are unavailable"
	if d.Cause == "unknown" {
		what = "the namespace sandbox could not be set up"
	}
	if c.Runtime == runtimeAuto {
		return fmt.Errorf("no runtime works here: %s (%s: %s), and %w", what, se, d.Detail, errPtraceMissing)
	}
	return fmt.Errorf("the ns runtime cannot start: %s (%s: %s)", what, se, d.Detail)
}
