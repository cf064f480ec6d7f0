package ptrace

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
)

// Run and the stub talk over two pipes and a socket whose numbers the stub
// gets as argv[2], argv[3] and argv[4] (the socket carries the
// notification listener: listener.go):
//
//   - spec pipe: Run writes one wireSpec (package wire, not JSON: argv,
//     environment and paths are bytes, not UTF-8 text), once the stub is seized,
//     and closes it. The stub blocks reading it, so it does nothing
//     untraced.
//   - status pipe, close-on-exec in the stub: it writes execMarker right
//     before exec'ing the program and an encoded wireStatus if something
//     fails. EOF with no data = the stub died early; the marker alone =
//     the program runs; anything else = the reason it does not.
const execMarker = 'x'

type wireSpec struct {
	Argv      []string
	Env       []string
	Dir       string
	NoSeccomp bool
	Notify    notifyLevel // what the filter sends to the notification server
	Probe     bool        // stop right before exec and exit 0
	KeepFDs   []int       // fds >= 3 the caller passed on purpose
	LogLevel  uint32
}

type wireStatus struct {
	Setup  *wireSetupError
	Lookup *proc.LookupWire
}

type wireSetupError struct {
	Step  string
	Msg   string
	Errno syscall.Errno
}

func encodeFailure(err error) []byte {
	var st wireStatus
	var setupErr *SetupError
	var lookupErr *proc.LookupError
	switch {
	case errors.As(err, &lookupErr):
		st.Lookup = proc.WireLookup(lookupErr)
	case errors.As(err, &setupErr):
		st.Setup = &wireSetupError{Step: setupErr.Step, Msg: setupErr.Err.Error()}
		errors.As(setupErr.Err, &st.Setup.Errno)
	default:
		st.Setup = &wireSetupError{Step: stepStub, Msg: err.Error()}
		errors.As(err, &st.Setup.Errno)
	}
	var e wire.Encoder
	if st.Lookup != nil {
		e.Uint(statusLookup)
		st.Lookup.Encode(&e)
	} else {
		e.Uint(statusSetup)
		e.String(st.Setup.Step)
		e.String(st.Setup.Msg)
		e.Uint(uint64(st.Setup.Errno))
	}
	return e.Bytes()
}

// The kinds of wireStatus.
const (
	statusSetup = iota + 1
	statusLookup
)

func decodeStatus(b []byte) (*wireStatus, error) {
	d := wire.NewDecoder(b)
	var st wireStatus
	switch d.Uint() {
	case statusLookup:
		st.Lookup = proc.DecodeLookup(d)
	case statusSetup:
		st.Setup = &wireSetupError{Step: d.String(), Msg: d.String(), Errno: syscall.Errno(d.Uint())}
	default:
		return nil, errors.New("unknown status kind")
	}
	return &st, d.Err()
}

// encode writes the spec, field by field (decodeSpec reads it back).
func (w *wireSpec) encode() []byte {
	var e wire.Encoder
	e.Strings(w.Argv)
	e.Strings(w.Env)
	e.String(w.Dir)
	e.Bool(w.NoSeccomp)
	e.Uint(uint64(w.Notify))
	e.Bool(w.Probe)
	e.Ints(w.KeepFDs)
	e.Uint(uint64(w.LogLevel))
	return e.Bytes()
}

func decodeSpec(b []byte) (*wireSpec, error) {
	d := wire.NewDecoder(b)
	w := &wireSpec{Argv: d.Strings(), Env: d.Strings(), Dir: d.String(), NoSeccomp: d.Bool(), Notify: notifyLevel(d.Uint()),
		Probe: d.Bool(), KeepFDs: d.Ints(), LogLevel: uint32(d.Uint())}
	return w, d.Err()
}

func decodeFailure(b []byte) error {
	st, err := decodeStatus(b)
	if err != nil {
		return &SetupError{Step: "reading stub status", Err: fmt.Errorf("%w (%q)", err, b)}
	}
	switch {
	case st.Lookup != nil:
		return st.Lookup.Err()
	case st.Setup != nil:
		return &SetupError{Step: st.Setup.Step, Err: &proc.RemoteError{Msg: st.Setup.Msg, Errno: st.Setup.Errno}}
	}
	return &SetupError{Step: "reading stub status", Err: fmt.Errorf("empty status %q", b)}
}
