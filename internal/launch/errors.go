package launch

import "fmt"

// SetupError says which step of a runtime's set-up failed and why. When a
// runtime's Run returns one, the program never started and its stdin was
// not read, so the caller can fall back to another runtime.
type SetupError struct {
	Step string // what was being done, e.g. "creating user namespace"
	Path string // the path the step was about, "" if none
	Err  error  // the cause; unwraps to a syscall.Errno where there is one
}

func (e *SetupError) Error() string {
	if e.Path != "" {
		return e.Step + " " + e.Path + ": " + e.Err.Error()
	}
	return e.Step + ": " + e.Err.Error()
}

func (e *SetupError) Unwrap() error { return e.Err }

// WorkDirError means the program cannot start in the caller's working
// directory. np never substitutes another one (a program told to write "x"
// must not write it into $HOME instead): it fails, naming the directory.
type WorkDirError struct {
	Dir    string // the caller's working directory by name, "" if it had none (deleted)
	Reason string
}

func (e *WorkDirError) Error() string {
	dir := e.Dir
	if dir == "" {
		dir = "(unnamed)"
	}
	return fmt.Sprintf("entering working directory %s inside the sandbox: %s; cd to another directory", dir, e.Reason)
}
