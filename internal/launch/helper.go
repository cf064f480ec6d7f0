package launch

import (
	"fmt"
	"os"
	"syscall"

	"github.com/np-portable/np/internal/proc"
)

// Helper describes a runtime's forked child to the parent's end of the
// handshake (Launch) and to Probe. The strings are the words of its
// messages, so each runtime's errors read as they always did.
type Helper struct {
	// Name names the child in messages: "sandbox init" (so "reading
	// sandbox init status").
	Name string
	// Start is the SetupError step of a child that died without a word.
	Start string
	// Died is the cause of a child that closed its status pipe without
	// a word (Result wraps it with the child's wait status).
	Died error
}

// statusStep is the SetupError step of a status that cannot be read.
func (h *Helper) statusStep() string { return "reading " + h.Name + " status" }

// Probe checks that h's runtime really works here: run (the runtime's
// start of a probe, which stops right before exec) goes through the whole
// set-up with an empty Nix directory, and the child must report success
// and end with 0. It returns nil or run's error, a *SetupError where the
// runtime could not start.
func (h *Helper) Probe(run func(nixDir string) (syscall.WaitStatus, error)) error {
	dir, err := os.MkdirTemp("", "np-probe-")
	if err != nil {
		dir, err = os.MkdirTemp("/tmp", "np-probe-") // TMPDIR names no directory
	}
	if err == nil {
		defer os.Remove(dir)
	} else {
		dir = "/" // no writable temp dir: any directory will do for a probe
	}
	ws, err := run(dir)
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &SetupError{Step: "running probe", Err: fmt.Errorf("%s ended with %s", h.Name, proc.DescribeStatus(ws))}
	}
	return nil
}
