package nsbox

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// stepCreate is the launch.SetupError.Step of a refused clone or uid/gid map write.
const stepCreate = "creating user namespace"

// Run re-executes /proc/self/exe as the sandbox init (see Init) in new user
// and mount namespaces, and waits for the program, forwarding signals to it
// (proc.RunHook). It returns the program's wait status.
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
// The init keeps CAP_SYS_ADMIN across the re-exec as an ambient capability,
// which needs Linux >= 4.3; it is dropped before the program starts. If np
// is killed, the init notices (its end of the status pipe loses its
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

// run starts the init for spec (a probe: stop right before exec) with
// opts (tests force the initramfs path with them).
func run(spec *launch.Spec, probe bool, opts initOptions) (syscall.WaitStatus, error) {
	var l launch.Launch
	defer l.CloseAll()
	if err := l.Prepare(initHelper, spec, probe); err != nil {
		return 0, err
	}
	l.Request.Options = &opts
	cmd := l.Command()
	uid, gid := os.Geteuid(), os.Getegid()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// No CLONE_NEWNET (costly: one report of 359 ms) nor CLONE_NEWPID
		// (the host's /proc is bound in and must match).
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		// The caller's own ids, so files keep their owners; Go writes the
		// maps before the child execs, so the init starts mapped.
		UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		// An unprivileged gid_map write needs setgroups denied first.
		GidMappingsEnableSetgroups: false,
		// A non-root uid loses every capability at execve; the init must
		// keep CAP_SYS_ADMIN to mount, and CAP_SYS_CHROOT for the
		// chroot where pivot_root is refused (initramfsFallback).
		// Ambient capabilities: Linux >= 4.3.
		AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SYS_CHROOT},
		// No Pdeathsig: killed with np, the init could not end the
		// program's tree. It watches the status pipe instead.
	}

	started := false
	ws, err := proc.RunHook(cmd, func(child *os.Process) error {
		started = true
		// Our copies of the child's ends must go, or EOF never comes.
		l.CloseChildEnds()
		_ = l.Send() // a refused spec means the init died: Result says how
		if l.ReadStatus(false) != nil {
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

// startError classifies a failed cmd.Start: a missing or unrunnable
// /proc/self/exe, or (by far the commonest) the kernel refusing the user
// namespace or its uid/gid maps.
func startError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.EPERM, unix.EACCES, unix.EINVAL, unix.ENOSPC, unix.EUSERS:
			// What the kernel answers when it refuses a user namespace or
			// its maps (see Diagnose).
			return &launch.SetupError{Step: stepCreate, Err: errno}
		}
		return &launch.SetupError{Step: "starting sandbox init", Path: "/proc/self/exe", Err: errno}
	}
	return &launch.SetupError{Step: stepCreate, Err: err}
}
