package launch

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
)

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

// The kinds of failure on the status pipe.
const (
	statusSetup = iota + 1
	statusLookup
	statusWorkDir
)

// EncodeFailure turns the helper's failure into what it writes on its
// status pipe: a kind, then its fields. A *SetupError keeps its step, path,
// text and errno; a *proc.LookupError and a *WorkDirError come back
// whole; any other error becomes a SetupError of step h.Start.
func (h *Helper) EncodeFailure(err error) []byte {
	var e wire.Encoder
	var setupErr *SetupError
	var lookupErr *proc.LookupError
	var workDirErr *WorkDirError
	switch {
	case errors.As(err, &workDirErr):
		e.Uint(statusWorkDir)
		e.String(workDirErr.Dir)
		e.String(workDirErr.Reason)
	case errors.As(err, &lookupErr):
		e.Uint(statusLookup)
		proc.WireLookup(lookupErr).Encode(&e)
	case errors.As(err, &setupErr):
		encodeSetup(&e, setupErr.Step, setupErr.Path, setupErr.Err)
	default:
		encodeSetup(&e, h.Start, "", err)
	}
	return e.Bytes()
}

func encodeSetup(e *wire.Encoder, step, path string, cause error) {
	var errno syscall.Errno
	errors.As(cause, &errno)
	e.Uint(statusSetup)
	e.String(step)
	e.String(path)
	e.String(cause.Error())
	e.Uint(uint64(errno))
}

// DecodeFailure rebuilds the error EncodeFailure sent: a *SetupError
// (whose cause is a *proc.RemoteError with the text and errno), a *proc.LookupError or a *WorkDirError. Bytes that do
// not decode are a SetupError of step "reading <Name> status".
func (h *Helper) DecodeFailure(b []byte) error {
	d := wire.NewDecoder(b)
	var err error
	switch d.Uint() {
	case statusWorkDir:
		err = &WorkDirError{Dir: d.String(), Reason: d.String()}
	case statusLookup:
		err = proc.DecodeLookup(d).Err()
	case statusSetup:
		err = &SetupError{Step: d.String(), Path: d.String(),
			Err: &proc.RemoteError{Msg: d.String(), Errno: syscall.Errno(d.Uint())}}
	default:
		return &SetupError{Step: h.statusStep(), Err: fmt.Errorf("unknown status kind (%q)", b)}
	}
	if derr := d.Err(); derr != nil {
		return &SetupError{Step: h.statusStep(), Err: fmt.Errorf("%w (%q)", derr, b)}
	}
	return err
}
