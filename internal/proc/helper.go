package proc

import (
	"errors"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/wire"
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

// LookupWire is a *LookupError in a form that can cross a status pipe.
type LookupWire struct {
	Name, File, Reason string
	NotExecutable      bool
}

// WireLookup is e's wire form.
func WireLookup(e *LookupError) *LookupWire {
	return &LookupWire{Name: e.Name, File: e.File, Reason: e.Reason, NotExecutable: errors.Is(e.Err, ErrNotExecutable)}
}

// Encode appends w to e.
func (w *LookupWire) Encode(e *wire.Encoder) {
	e.String(w.Name)
	e.String(w.File)
	e.String(w.Reason)
	e.Bool(w.NotExecutable)
}

// DecodeLookup reads what Encode wrote.
func DecodeLookup(d *wire.Decoder) *LookupWire {
	return &LookupWire{Name: d.String(), File: d.String(), Reason: d.String(), NotExecutable: d.Bool()}
}

// Err rebuilds the *LookupError.
func (w *LookupWire) Err() *LookupError {
	kind := ErrNotFound
	if w.NotExecutable {
		kind = ErrNotExecutable
	}
	return &LookupError{Name: w.Name, File: w.File, Reason: w.Reason, Err: kind}
}

// HelperEnv is a re-executed helper's own environment (the program's goes
// over its spec pipe). One P spares it idle threads. On x86_64, SSE4.2 is
// off for it: every np process builds hash/crc32's Castagnoli tables at
// start-up (a package np links for zstd does so at init), which with
// SSE4.2 costs about 0.2 ms, without it a few µs; a helper computes no
// CRC at all.
func HelperEnv() []string {
	env := []string{"GOMAXPROCS=1"}
	if runtime.GOARCH == "amd64" {
		env = append(env, "GODEBUG=cpu.sse42=off")
	}
	return env
}
