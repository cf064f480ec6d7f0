package nsbox

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
)

// The parent and the sandbox init talk over two inherited pipes, at fds
// specFD and statusFD unless the caller passed np fds of its own: those keep
// their numbers, and the pipes come after them (argv[2] and argv[3] of the
// init name them then).
//
//   - fd specFD: the parent writes one wireSpec (package wire) and closes
//     it. Not JSON: argv, environment and directory names are bytes, not
//     UTF-8 text, and JSON would replace an invalid byte such as 0xe9 by
//     U+FFFD (so `np run rm $'file\xe9'` would remove another file).
//   - fd statusFD: close-on-exec in the init. The init writes execMarker
//     once the program has started, or an encoded wireStatus if
//     something fails (paths in it are bytes too), and then exits.
//     So: EOF with no data = the init died early; the marker = the program
//     runs; anything else = the reason it does not. After the marker the
//     init keeps the pipe open while the program runs: np's end closing
//     tells it that np died.
const (
	specFD     = 3
	statusFD   = 4
	execMarker = 'x'
)

// wireSpec is what the init needs: Spec without the stdio (those are fds
// 0-2 already) plus what the parent resolved.
type wireSpec struct {
	NixDir   string // absolute host path without symlinks
	Argv     []string
	Env      []string
	Dir      string
	Probe    bool   // stop right before exec and exit 0
	KeepFDs  []int  // fds >= 3 the caller passed to np on purpose; they reach the program
	LogLevel uint32 // logrus level of the parent
	// ForcePivotFallback: take the initramfs path even where pivot_root
	// works (tests only; see Spec).
	ForcePivotFallback bool
}

// wireStatus carries the init's failure to the parent.
type wireStatus struct {
	Setup   *wireSetupError  `json:",omitempty"`
	Lookup  *proc.LookupWire `json:",omitempty"`
	WorkDir *WorkDirError
}

type wireSetupError struct {
	Step  string
	Path  string   `json:",omitempty"`
	Op    *OpError `json:",omitempty"` // the failed system call, when that is the cause
	Msg   string   // the cause's text otherwise
	Errno syscall.Errno
}

// encodeFailure turns an init failure into wire form.
func encodeFailure(err error) []byte {
	var st wireStatus
	var setupErr *SetupError
	var lookupErr *proc.LookupError
	var workDirErr *WorkDirError
	switch {
	case errors.As(err, &workDirErr):
		st.WorkDir = workDirErr
	case errors.As(err, &lookupErr):
		st.Lookup = proc.WireLookup(lookupErr)
	case errors.As(err, &setupErr):
		st.Setup = &wireSetupError{Step: setupErr.Step, Path: setupErr.Path, Msg: setupErr.Err.Error()}
		errors.As(setupErr.Err, &st.Setup.Op)
		errors.As(setupErr.Err, &st.Setup.Errno)
	default:
		st.Setup = &wireSetupError{Step: "running sandbox init", Msg: err.Error()}
		errors.As(err, &st.Setup.Errno)
	}
	var e wire.Encoder
	st.encode(&e)
	return e.Bytes()
}

// encode writes the spec, field by field (decodeSpec reads it back).
func (w *wireSpec) encode(e *wire.Encoder) {
	e.String(w.NixDir)
	e.Strings(w.Argv)
	e.Strings(w.Env)
	e.String(w.Dir)
	e.Bool(w.Probe)
	e.Ints(w.KeepFDs)
	e.Uint(uint64(w.LogLevel))
	e.Bool(w.ForcePivotFallback)
}

func decodeSpec(b []byte) (*wireSpec, error) {
	d := wire.NewDecoder(b)
	w := &wireSpec{NixDir: d.String(), Argv: d.Strings(), Env: d.Strings(), Dir: d.String(), Probe: d.Bool(),
		KeepFDs: d.Ints(), LogLevel: uint32(d.Uint()), ForcePivotFallback: d.Bool()}
	return w, d.Err()
}

// encode writes the status: a kind byte, then its fields.
func (st *wireStatus) encode(e *wire.Encoder) {
	switch {
	case st.WorkDir != nil:
		e.Uint(statusWorkDir)
		e.String(st.WorkDir.Dir)
		e.String(st.WorkDir.Reason)
	case st.Lookup != nil:
		e.Uint(statusLookup)
		st.Lookup.Encode(e)
	default:
		s := st.Setup
		e.Uint(statusSetup)
		e.String(s.Step)
		e.String(s.Path)
		e.String(s.Msg)
		e.Uint(uint64(s.Errno))
		e.Bool(s.Op != nil)
		if s.Op != nil {
			e.String(s.Op.Op)
			e.String(s.Op.Source)
			e.String(s.Op.Target)
			e.String(s.Op.FSType)
			e.Uint(uint64(s.Op.Flags))
			e.String(s.Op.Data)
			e.Uint(uint64(s.Op.Errno))
		}
	}
}

// The kinds of wireStatus.
const (
	statusSetup = iota + 1
	statusLookup
	statusWorkDir
)

func decodeStatus(b []byte) (*wireStatus, error) {
	d := wire.NewDecoder(b)
	var st wireStatus
	switch d.Uint() {
	case statusWorkDir:
		st.WorkDir = &WorkDirError{Dir: d.String(), Reason: d.String()}
	case statusLookup:
		st.Lookup = proc.DecodeLookup(d)
	case statusSetup:
		st.Setup = &wireSetupError{Step: d.String(), Path: d.String(), Msg: d.String(), Errno: syscall.Errno(d.Uint())}
		if d.Bool() {
			st.Setup.Op = &OpError{Op: d.String(), Source: d.String(), Target: d.String(), FSType: d.String(),
				Flags: uintptr(d.Uint()), Data: d.String(), Errno: syscall.Errno(d.Uint())}
		}
	default:
		return nil, errors.New("unknown status kind")
	}
	return &st, d.Err()
}

// decodeFailure rebuilds the error encodeFailure sent: a *SetupError or a
// *proc.LookupError.
func decodeFailure(b []byte) error {
	st, err := decodeStatus(b)
	if err != nil {
		return &SetupError{Step: "reading sandbox init status", Err: fmt.Errorf("%w (%q)", err, b)}
	}
	switch {
	case st.WorkDir != nil:
		return st.WorkDir
	case st.Lookup != nil:
		return st.Lookup.Err()
	case st.Setup != nil:
		s := st.Setup
		var cause error = &proc.RemoteError{Msg: s.Msg, Errno: s.Errno}
		if s.Op != nil {
			cause = s.Op
		}
		return &SetupError{Step: s.Step, Path: s.Path, Err: cause}
	default:
		return &SetupError{Step: "reading sandbox init status", Err: fmt.Errorf("empty status %q", b)}
	}
}
