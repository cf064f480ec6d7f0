package proc

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// What both runtimes' re-executed helpers (the ns init, the ptrace stub)
// share: their environment edits, their stderr once the parent reports for
// them, and the wire form of a failed program lookup.

// SetEnv returns env with every key=... replaced by one key=value at the end.
func SetEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !(strings.HasPrefix(kv, key) && len(kv) > len(key) && kv[len(key)] == '=') {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// SilenceStderr points fd 2 at /dev/null: once a helper has sent its
// failure to the parent, reporting it is the parent's job (which may fall
// back to another runtime quietly).
func SilenceStderr() {
	fd, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_ = unix.Dup3(fd, 2, 0)
	_ = unix.Close(fd)
}

// LookupWire is a *LookupError in a form gob can carry over a status pipe.
type LookupWire struct {
	Name, File, Reason string
	NotExecutable      bool
}

// WireLookup is e's wire form.
func WireLookup(e *LookupError) *LookupWire {
	return &LookupWire{Name: e.Name, File: e.File, Reason: e.Reason, NotExecutable: errors.Is(e.Err, ErrNotExecutable)}
}

// Err rebuilds the *LookupError.
func (w *LookupWire) Err() *LookupError {
	kind := ErrNotFound
	if w.NotExecutable {
		kind = ErrNotExecutable
	}
	return &LookupError{Name: w.Name, File: w.File, Reason: w.Reason, Err: kind}
}
