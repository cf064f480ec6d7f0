package launch

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/np-portable/np/internal/proc"
)

// Exit codes of np's own failures; a program's status passes through.
const (
	ExitFailure       = 125 // np itself failed
	ExitNotExecutable = 126
	ExitNotFound      = 127
)

// Exit ends the process: with np's own failure (one "np:" line on
// stderr, exit code ExitCode(err)), or the way the program ended: its exit
// code, or death by the same signal, so a calling shell loop stops on ^C
// as it would with the bare program.
func Exit(ws syscall.WaitStatus, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "np: %v\n", err)
		os.Exit(ExitCode(err))
	}
	code, sig := proc.ExitCode(ws)
	if sig != 0 {
		proc.Reraise(sig)
	}
	os.Exit(code)
}

// ExitCode maps np's failures to the exit codes a shell uses.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, proc.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, proc.ErrNotExecutable):
		return ExitNotExecutable
	}
	return ExitFailure
}
