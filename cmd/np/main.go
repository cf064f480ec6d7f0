// Command np runs Nix on any Linux host without installation or root.
//
//	np <nix tool> ARGS...      run a Nix tool (nix, nix-shell, nix-build, ...)
//	np run PROGRAM ARGS...     run any program where /nix is np's store
//	np link DIR                make links named after the Nix tools in DIR
//	np doctor [--json]         explain which runtime works here and why
//	np help [COMMAND] | --help | --version
//
// A link to np named after a Nix tool runs that tool. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/sirupsen/logrus"

	"np/internal/proc"
	"np/nsbox"
	"np/ptrace"
)

// Exit codes of np's own failures; a program's status passes through.
const (
	exitFailure       = 125 // np itself failed
	exitNotExecutable = 126
	exitNotFound      = 127
)

func main() {
	logrus.SetFormatter(&logFormatter{})
	if len(os.Args) > 1 && os.Args[1] == nsbox.InitArg {
		// The re-executed sandbox init: it execs the program, fails, or
		// (for a probe) returns nil where the program would start.
		err := nsbox.Init()
		if err == nil {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "np: %v\n", err)
		os.Exit(exitCodeOf(err))
	}
	if len(os.Args) > 1 && os.Args[1] == ptrace.StubArg {
		err := ptrace.Stub()
		if err == nil {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "np: %v\n", err)
		os.Exit(exitCodeOf(err))
	}
	// Taken before np opens anything: every fd >= 3 without close-on-exec
	// now is one the caller passed on purpose.
	callerFDs = proc.InheritedFDs()
	ws, err := run(os.Args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "np: %v\n", err)
		os.Exit(exitCodeOf(err))
	}
	code, sig := proc.ExitCode(ws)
	if sig != 0 {
		// Die the way the program died, so a calling shell loop stops on
		// ^C as it would with the bare program.
		proc.Reraise(sig)
	}
	os.Exit(code)
}

// exitCodeOf maps np's failures to the exit codes a shell uses.
func exitCodeOf(err error) int {
	switch {
	case errors.Is(err, proc.ErrNotFound):
		return exitNotFound
	case errors.Is(err, proc.ErrNotExecutable):
		return exitNotExecutable
	}
	return exitFailure
}

// callerFDs are the descriptors >= 3 np's caller passed to it; they reach
// the user's program, and only it.
var callerFDs []int

// usageError is a command-line mistake.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see np --help)" }

// exitStatus is a plain status for commands np answers itself.
func exitStatus(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }

func setupLogging(c *config) { logrus.SetLevel(c.LogLevel) }

// logFormatter prints "np[debug]: message" lines.
type logFormatter struct{}

func (logFormatter) Format(e *logrus.Entry) ([]byte, error) {
	return []byte(fmt.Sprintf("np[%s]: %s\n", e.Level, e.Message)), nil
}
