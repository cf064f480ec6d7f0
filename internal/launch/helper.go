package launch

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/np-portable/np/internal/proc"
)

// Prefix starts every helper name; no np command or Nix tool starts with it,
// so a user's arguments are never taken for one.
const Prefix = "__np_"

// Entry is a helper's main. It returns when it has nothing (more) to exec:
// with the status main ends by (the program's, when the helper waited for
// it; zero for a probe), or with why it failed (main prints the error and
// exits with its code: see Exit).
type Entry func() (syscall.WaitStatus, error)

// Table maps helper names (argv[1]) to their entries. Why a registry: the
// runtimes own their entry points and names; main only needs one rule
// ("argv[1] names a helper: run it") instead of one branch per runtime.
type Table map[string]Entry

// Lookup returns the entry named by args[1], if args name a helper.
func (t Table) Lookup(args []string) (Entry, bool) {
	if len(args) < 2 || !strings.HasPrefix(args[1], Prefix) {
		return nil, false
	}
	e, ok := t[args[1]]
	return e, ok
}

// Helper describes one runtime's helper process to both ends of the
// handshake. The strings are the words of its messages, so each runtime's
// errors read as they always did.
type Helper struct {
	// Arg is the hidden argv[1] naming the helper (it starts with Prefix).
	Arg string
	// Name names the helper in messages: "sandbox init" (so "reading
	// sandbox init status").
	Name string
	// Caller is the function that starts it, for a helper started by
	// hand: "nsbox.Run".
	Caller string
	// Start is the SetupError step of a helper that died without a word,
	// or failed with an error that names no step of its own.
	Start string
	// Died is the cause of a helper that closed its status pipe without
	// a word (Result wraps it with the helper's wait status).
	Died error
	// ExtraFDs is how many of the runtime's own fds (Launch.AddFD) follow
	// the two pipes; their numbers are in argv too (Child.Extra).
	ExtraFDs int
	// Forked says the helper is a fork of the parent that never execs
	// np (the ns init): it has the Request in memory already, so there is
	// no spec pipe, and it writes its failures itself (Launch.Decode).
	Forked bool
}

// statusStep is the SetupError step of a status that cannot be read.
func (h *Helper) statusStep() string { return "reading " + h.Name + " status" }

// Probe checks that h's runtime really works here: run (the runtime's
// start of a probe, which stops right before exec) goes through the whole
// set-up with an empty Nix directory, and the helper must report success
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
