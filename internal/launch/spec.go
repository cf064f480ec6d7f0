package launch

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Spec is one program to run where /nix is np's Nix directory, whatever
// the runtime.
type Spec struct {
	// NixDir is the host directory that appears at /nix; it must exist.
	NixDir string
	// Argv is the program and its arguments. Argv[0] is looked up as
	// execvp does, on the PATH of Env, as the program will see the files.
	Argv []string
	// Env is the program's complete environment.
	Env []string
	// Dir is the working directory by name, as np's getcwd gave it; ""
	// keeps np's own (a deleted one has no name). The program starts
	// there (PWD then says so); each runtime's Run says what happens when
	// the name leads nowhere.
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
}

// Request is what the child is to do: the Spec without its stdio (the
// child's fds 0-2 already), with the Nix directory resolved.
type Request struct {
	NixDir  string // absolute host path without symlinks
	Argv    []string
	Env     []string
	Dir     string
	Probe   bool  // stop right before exec and report success
	KeepFDs []int // fds >= 3 the caller passed on purpose; they reach the program
}

// resolveDir returns dir as an absolute path without symlinks: the ns
// init finds it under /oldroot, where an absolute symlink would resolve
// against the scratch root instead of the host's, and the tracer compares
// host paths with it.
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
