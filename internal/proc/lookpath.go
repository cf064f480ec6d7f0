package proc

import (
	"syscall"

	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotFound and ErrNotExecutable classify why a program cannot be run.
// Shells exit 127 for the first and 126 for the second; np does the same.
var (
	ErrNotFound      = errors.New("program not found")
	ErrNotExecutable = errors.New("program not executable")
)

// DefaultPath is the search path execvp uses when PATH is unset (glibc's
// confstr(_CS_PATH)).
const DefaultPath = "/bin:/usr/bin"

// LookupError says which program could not be run and why. It unwraps to
// ErrNotFound or ErrNotExecutable. The ns init reports only the kind, the
// candidate and the errno; its parent rebuilds it.
type LookupError struct {
	Name   string // the program as the user typed it
	File   string // the file that was tried, if one was found
	Reason string // why File cannot run ("permission denied", "is a directory"); empty when nothing was found
	Err    error  // ErrNotFound or ErrNotExecutable
}

func (e *LookupError) Error() string {
	switch {
	case e.Reason != "" && e.File != "":
		return fmt.Sprintf("running program %q: %s: %s", e.Name, e.File, e.Reason)
	case e.Reason != "":
		return fmt.Sprintf("running program %q: %s", e.Name, e.Reason)
	case strings.Contains(e.Name, "/"):
		return fmt.Sprintf("program %q not found", e.Name)
	default:
		return fmt.Sprintf("program %q not found on PATH", e.Name)
	}
}

func (e *LookupError) Unwrap() error { return e.Err }

// LookPath finds name the way execvp(3) does, searching the PATH value path
// (not the current environment's). A name containing '/' is used as is. An
// empty element of path means the current directory, as in execvp; an unset
// PATH should be passed as DefaultPath. When no candidate is executable but
// one exists, the error wraps ErrNotExecutable (execvp's EACCES); otherwise
// it wraps ErrNotFound. A PATH directory that cannot be searched is skipped,
// as bash and dash do (execvp would report EACCES). The returned error is
// always a *LookupError.
//
// Permission checks use the effective ids (faccessat with AT_EACCESS), like
// execve itself.
func LookPath(name, path string) (string, error) {
	return LookPathVia(name, path, nil)
}

// LookPathVia is LookPath for a program that sees other files than np
// (the ptrace runtime's /nix): host maps each candidate, named as the
// program names it, to the host path np checks, or to the error the
// program's own lookup of it would meet. A nil host is the host's view.
// Candidates and the result keep the program's names.
func LookPathVia(name, path string, host func(string) (string, error)) (string, error) {
	if host == nil {
		host = func(file string) (string, error) { return file, nil }
	}
	stat := func(file string) (string, os.FileInfo, error) {
		h, err := host(file)
		if err != nil {
			return "", nil, err
		}
		fi, err := os.Stat(h)
		return h, fi, err
	}
	if name == "" {
		return "", &LookupError{Name: name, Err: ErrNotFound}
	}
	if strings.Contains(name, "/") {
		h, fi, err := stat(name)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return "", &LookupError{Name: name, Err: ErrNotFound}
		}
		if err != nil {
			return "", &LookupError{Name: name, File: name, Reason: errnoText(err), Err: ErrNotExecutable}
		}
		reason, err := checkExecutable(h, fi)
		if err != nil {
			return "", &LookupError{Name: name, File: name, Reason: reason, Err: err}
		}
		return name, nil
	}
	var denied *LookupError
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		file := dir + "/" + name
		h, fi, err := stat(file)
		if err != nil {
			// Unlike execvp, and like bash and dash, a PATH directory that
			// cannot be searched (EACCES) does not make a program that is
			// found nowhere "not executable".
			continue
		}
		reason, err := checkExecutable(h, fi)
		switch {
		case err == nil:
			return file, nil
		case denied == nil:
			// execvp remembers EACCES and keeps searching.
			denied = &LookupError{Name: name, File: file, Reason: reason, Err: ErrNotExecutable}
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", &LookupError{Name: name, Err: ErrNotFound}
}

// checkExecutable reports whether execve(file) could start, given its
// stat result: nil, or ErrNotExecutable with a reason for the message.
func checkExecutable(file string, fi os.FileInfo) (reason string, err error) {
	if fi.IsDir() {
		return "is a directory", ErrNotExecutable
	}
	if err := unix.Faccessat(unix.AT_FDCWD, file, unix.X_OK, unix.AT_EACCESS); err != nil {
		return errnoText(err), ErrNotExecutable
	}
	return "", nil
}

// Exec replaces this process with the program at file (found by LookPath).
// Like execvp, a file without a #! line or ELF header (ENOEXEC) is run by
// /bin/sh. It returns only on failure, with a *LookupError.
func Exec(argv []string, file string, env []string) error {
	err := syscall.Exec(file, argv, env)
	if errors.Is(err, unix.ENOEXEC) {
		shArgv := append([]string{"/bin/sh", file}, argv[1:]...)
		err = syscall.Exec("/bin/sh", shArgv, env)
	}
	return ExecError(argv[0], file, err)
}

// ExecError is Exec's error for an execve of file (found by LookPath for
// name) that failed with err.
func ExecError(name, file string, err error) *LookupError {
	lookupErr := &LookupError{Name: name, File: file, Reason: errnoText(err), Err: ErrNotExecutable}
	if errors.Is(err, unix.ENOENT) {
		// The file exists (LookPath saw it), so its interpreter or ELF
		// loader does not; shells say 127 here.
		lookupErr.Reason += " (missing interpreter or dynamic loader?)"
		lookupErr.Err = ErrNotFound
	}
	return lookupErr
}

// Getenv returns the value of the first key=... in env, as getenv(3) does.
func Getenv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if strings.HasPrefix(kv, key) && len(kv) > len(key) && kv[len(key)] == '=' {
			return kv[len(key)+1:], true
		}
	}
	return "", false
}

// LookPathEnv is LookPath on the PATH of env, DefaultPath when it has none.
func LookPathEnv(name string, env []string) (string, error) {
	path, ok := Getenv(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	return LookPath(name, path)
}

// errnoText returns the bare errno text of err ("permission denied").
func errnoText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
