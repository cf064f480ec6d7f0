package launch

import (
	"strings"
	"syscall"

	"github.com/np-portable/np/internal/wire"
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
	// Name names the helper in messages: "sandbox init".
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
	// StatusStep is the SetupError step of a status that cannot be read.
	StatusStep string
	// ExtraFDs is how many of the runtime's own fds (Launch.AddFD) follow
	// the two pipes; their numbers are in argv too (Child.Extra).
	ExtraFDs int
	// DecodeCause reads a runtime's own SetupError cause (a Cause it
	// sent); nil when the runtime has none.
	DecodeCause func(d *wire.Decoder) error
}
