package nsbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
	wirepkg "github.com/np-portable/np/internal/wire"
)

// Spec is one sandboxed run.
type Spec struct {
	// NixDir is the host directory that appears at /nix; it must exist.
	NixDir string
	// Argv is the program and its arguments. Argv[0] is looked up inside
	// the sandbox, like execvp does, on the PATH of Env.
	Argv []string
	// Env is the program's complete environment.
	Env []string
	// Dir is the name of np's own working directory (which the init
	// inherits), "" when it has none (getcwd fails in a deleted
	// directory); or a directory that exists inside, such as "/". The
	// program starts there by name (PWD is then set to Dir), or, when Dir
	// leads nowhere inside, in the inherited directory itself. Under /nix
	// a name leading to another directory than the inherited one is a
	// *WorkDirError: never a silent substitute.
	Dir string
	// Stdin, Stdout and Stderr default to np's own (the fds are inherited,
	// not copied). An *os.File is passed as is; anything else is copied
	// through a pipe, stdin only once the program really runs.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// PassFDs are descriptors >= 3 that reach the program at the same
	// numbers: the ones np's own caller passed on purpose
	// (proc.InheritedFDs, taken once at start-up).
	PassFDs []int

	// forcePivotFallback makes the init take the path it takes where the
	// first pivot_root is refused (an initramfs root), so tests exercise
	// it on hosts where pivot_root works.
	forcePivotFallback bool
}

// stepCreate is the SetupError.Step of a refused clone or uid/gid map write.
const stepCreate = "creating user namespace"

// Run re-executes /proc/self/exe as the sandbox init (see Init) in new user
// and mount namespaces, and waits for the program, forwarding signals to it
// (proc.RunHook). It returns the program's wait status.
//
// If the program cannot start in the working directory, the error is a
// *WorkDirError. If the sandbox could not be set up, it returns a *SetupError, the program
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
func Run(spec Spec) (syscall.WaitStatus, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("running sandbox: no program given")
	}
	return run(spec, false)
}

// Probe checks that a sandbox can really be created and set up here: it
// runs the whole set-up with an empty NixDir and stops right before exec.
// Clone succeeding is not enough (Ubuntu 24.04's AppArmor lets it through
// and refuses the first mount). It returns nil or a *SetupError.
func Probe() error {
	dir, err := os.MkdirTemp("", "np-probe-")
	if err == nil {
		defer os.Remove(dir)
	} else {
		dir = "/" // no writable temp dir: any directory will do for a probe
	}
	ws, err := run(Spec{NixDir: dir, Dir: "/"}, true)
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &SetupError{Step: "running probe", Err: fmt.Errorf("sandbox init ended with %s", proc.DescribeStatus(ws))}
	}
	return nil
}

// errInitDied: the init closed the status pipe without a word.
var errInitDied = errors.New("sandbox init died before exec")

func run(spec Spec, probe bool) (syscall.WaitStatus, error) {
	nixDir, err := resolveDir(spec.NixDir)
	if err != nil {
		return 0, &SetupError{Step: "checking nix directory", Path: spec.NixDir, Err: err}
	}
	wire := &wireSpec{NixDir: nixDir, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir,
		Probe: probe, LogLevel: uint32(logrus.GetLevel()), ForcePivotFallback: spec.forcePivotFallback}
	if !probe {
		wire.KeepFDs = spec.PassFDs
	}

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

	// Fds the caller passed on purpose keep their numbers in the init (and
	// so in the program); the two pipes follow them.
	extra, args := []*os.File{specR, statusW}, []string{os.Args[0], InitArg}
	if n := len(wire.KeepFDs); n > 0 {
		top := wire.KeepFDs[n-1]
		extra = make([]*os.File, top-2, top)
		for i, fd := range wire.KeepFDs {
			extra[fd-3] = passed[i]
		}
		extra = append(extra, specR, statusW)
		args = append(args, strconv.Itoa(top+1), strconv.Itoa(top+2))
	}

	uid, gid := os.Geteuid(), os.Getegid()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe", // this very binary, even if replaced on disk meanwhile
		Args:       args,
		Env:        initEnv,
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: extra, // ends with the spec and status pipes
		SysProcAttr: &syscall.SysProcAttr{
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
		},
	}

	started := false
	ws, err := proc.RunHook(cmd, func(child *os.Process) error {
		started = true
		return awaitExec(&p, child, specW, statusR, wire)
	})
	// Whatever happened, the caller's writers are not to be touched once
	// Run returns: end the output copies (the child's ends are all closed
	// now, so they reach EOF).
	p.CloseChildEnds()
	copyErr := p.Wait()
	switch {
	case err != nil && !started:
		return 0, startError(err)
	case errors.Is(err, errInitDied) && ws.Signaled():
		// Killed during set-up (^C from the terminal reaches it too): np
		// ends the same way, no fallback.
		return ws, nil
	case errors.Is(err, errInitDied):
		return 0, &SetupError{Step: "running sandbox init", Err: fmt.Errorf("%w: %s", errInitDied, proc.DescribeStatus(ws))}
	case err != nil:
		return 0, err
	}
	return ws, copyErr
}

// awaitExec is the parent's side of the set-up, once the init runs: send
// the spec, then read the status pipe until it closes. It returns nil once
// the program runs (and starts feeding its stdin), errInitDied if the init
// died without a word, or the init's *SetupError or *proc.LookupError.
func awaitExec(p *proc.Plumbing, child *os.Process, specW, statusR *os.File, wire *wireSpec) error {
	// Our copies of the child's ends must go, or EOF never comes.
	p.CloseChildEnds()
	var e wirepkg.Encoder
	wire.encode(&e)
	werr := proc.WriteAll(specW, e.Bytes())
	// The marker comes alone, and the init keeps the pipe open while the
	// program runs (its closing is how the init learns that np died); a
	// failure is all the init writes before it exits.
	first := make([]byte, 1)
	n, rerr := io.ReadFull(statusR, first)
	var rest []byte
	if n == 1 && first[0] != execMarker {
		rest, rerr = io.ReadAll(statusR)
	}
	switch {
	case rerr != nil && rerr != io.EOF:
		// Whether the program runs is unknown: make sure it does not.
		_ = child.Kill()
		return &SetupError{Step: "reading sandbox init status", Err: rerr}
	case n == 0 && werr != nil:
		return &SetupError{Step: "sending spec to sandbox init", Err: werr}
	case n == 0:
		return errInitDied
	case first[0] != execMarker:
		return decodeFailure(append(first, rest...))
	}
	p.StartStdin()
	return nil
}

// resolveDir returns dir as an absolute path without symlinks: the init
// finds it under /oldroot, where an absolute symlink would resolve against
// the scratch root instead of the host's.
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
			return &SetupError{Step: stepCreate, Err: errno}
		}
		return &SetupError{Step: "starting sandbox init", Path: "/proc/self/exe", Err: errno}
	}
	return &SetupError{Step: stepCreate, Err: err}
}

// initEnv is the helper's own environment (see proc.HelperEnv).
var initEnv = proc.HelperEnv()
