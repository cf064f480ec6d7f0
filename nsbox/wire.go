package nsbox

import (
	"errors"
	"syscall"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
)

// initHelper is the sandbox init to package launch, which carries the
// spec and status between Run and Init (see launch's doc).
var initHelper = &launch.Helper{
	Arg:         InitArg,
	Name:        "sandbox init",
	Caller:      "nsbox.Run",
	Start:       "running sandbox init",
	Died:        errInitDied,
	DecodeCause: decodeOpError,
	// The init watches the status pipe for np's death while the
	// program runs.
	WatchesStatus: true,
}

// errInitDied: the init closed the status pipe without a word.
var errInitDied = errors.New("sandbox init died before exec")

// initOptions are nsbox's own fields of the spec.
type initOptions struct {
	// forcePivotFallback: take the initramfs path even where pivot_root
	// works (tests only; see run).
	forcePivotFallback bool
}

func (o *initOptions) EncodeWire(e *wire.Encoder) { e.Bool(o.forcePivotFallback) }
func (o *initOptions) DecodeWire(d *wire.Decoder) { o.forcePivotFallback = d.Bool() }

// EncodeWire sends e whole over the status pipe (decodeOpError reads it):
// it is a launch.Cause.
func (e *OpError) EncodeWire(w *wire.Encoder) {
	w.String(e.Op)
	w.String(e.Source)
	w.String(e.Target)
	w.String(e.FSType)
	w.Uint(uint64(e.Flags))
	w.String(e.Data)
	w.Uint(uint64(e.Errno))
}

func decodeOpError(d *wire.Decoder) error {
	return &OpError{Op: d.String(), Source: d.String(), Target: d.String(), FSType: d.String(),
		Flags: uintptr(d.Uint()), Data: d.String(), Errno: syscall.Errno(d.Uint())}
}
