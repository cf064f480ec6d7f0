// Package reexec lets np re-execute its own binary as a helper process with
// a job of its own: the namespace runtime's sandbox init, the ptrace
// runtime's stub. A helper is named by a hidden argv[1]; main asks Lookup
// for it before anything else and runs what it finds.
//
// Why a registry: the runtimes own their entry points and names; main only
// needs one rule ("argv[1] names a helper: run it") instead of one branch
// per runtime.
package reexec

import (
	"strings"
	"syscall"
)

// Prefix starts every helper name; no np command or Nix tool starts with it,
// so a user's arguments are never taken for one.
const Prefix = "__np_"

// Entry is a helper's main. It returns when it has nothing (more) to exec:
// with the status main ends by (the program's, when the helper waited for
// it; zero for a probe), or with why it failed (main prints the error and
// exits with its code).
type Entry func() (syscall.WaitStatus, error)

// Table maps helper names (argv[1]) to their entries.
type Table map[string]Entry

// Lookup returns the entry named by args[1], if args name a helper.
func (t Table) Lookup(args []string) (Entry, bool) {
	if len(args) < 2 || !strings.HasPrefix(args[1], Prefix) {
		return nil, false
	}
	e, ok := t[args[1]]
	return e, ok
}
