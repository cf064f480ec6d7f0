package ptrace

import (
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
	"github.com/np-portable/np/ptrace/systable"
)

// stubHelper is the stub to package launch, which carries the spec and
// status between Run and Stub (see launch's doc). After the two pipes the
// stub gets a socket (Helper.ExtraFDs), which carries the notification
// listener to the tracer: listener.go. Run writes the spec once the stub is
// seized; the stub blocks reading it, so it does nothing untraced. The
// status pipe closes at exec (close-on-exec): the stub writes the marker
// right before exec'ing the program, and a failure after it if exec fails.
var stubHelper = &launch.Helper{
	Arg:      StubArg,
	Name:     "stub",
	Caller:   "ptrace.Run",
	Start:    stepStub,
	Died:     errStubDied,
	ExtraFDs: 1,
}

// stubOptions are ptrace's own fields of the spec.
type stubOptions struct {
	NoSeccomp bool
	Notify    systable.NotifyLevel // what the filter sends to the notification server
}

func (o *stubOptions) EncodeWire(e *wire.Encoder) {
	e.Bool(o.NoSeccomp)
	e.Uint(uint64(o.Notify))
}

func (o *stubOptions) DecodeWire(d *wire.Decoder) {
	o.NoSeccomp = d.Bool()
	o.Notify = systable.NotifyLevel(d.Uint())
}
