package ptrace

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"syscall"

	"github.com/np-portable/np/internal/proc"
)

// Run and the stub talk over two pipes and a socket whose numbers the stub
// gets as argv[2], argv[3] and argv[4] (the socket carries the
// notification listener: listener.go):
//
//   - spec pipe: Run writes one gob-encoded wireSpec (gob, not JSON: argv,
//     environment and paths are bytes, not UTF-8 text), once the stub is seized,
//     and closes it. The stub blocks reading it, so it does nothing
//     untraced.
//   - status pipe, close-on-exec in the stub: it writes execMarker right
//     before exec'ing the program and a gob-encoded wireStatus if something
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
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(st); err != nil { // cannot happen: plain strings and numbers
		b.Reset()
		_ = gob.NewEncoder(&b).Encode(wireStatus{Setup: &wireSetupError{Step: stepStub, Msg: "unencodable error"}})
	}
	return b.Bytes()
}

func decodeFailure(b []byte) error {
	var st wireStatus
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
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
