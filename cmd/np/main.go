// Command np runs Nix on any Linux host without installation or root.
//
//	np <nix tool> ARGS...      run a Nix tool (nix, nix-shell, nix-build, ...)
//	np run PROGRAM ARGS...     run any program where /nix is np's store
//	np link DIR                make links named after the Nix tools in DIR
//	np expose [--remove] DIR   wrappers in DIR for the programs of your Nix profile
//	np bundle INSTALLABLE      write one executable running a Nix-built program
//	np doctor [--json]         explain which runtime works here and why
//	np help [COMMAND] | --help | --version
//
// A link to np named after a Nix tool runs that tool. A bundle (np bundle)
// runs its program instead of all this. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/app/expose"
	"github.com/np-portable/np/app/session"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/interrupt"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

func main() {
	logrus.SetFormatter(&logFormatter{})
	if len(os.Args) > 2 && os.Args[1] == expose.WrapperArg {
		// An np expose wrapper, run by its #! line: np run of its program.
		if err := runWrapper(); err != nil {
			launch.Exit(0, err)
		}
	}
	ap := loadApp()
	var ws syscall.WaitStatus
	var err error
	if b, berr := extract.OpenBundle("/proc/self/exe"); berr == nil {
		// A bundle: every argument is its program's.
		ws, err = runBundle(ap, b, os.Args)
	} else {
		ws, err = run(ap, os.Args)
	}
	var intr *interrupt.Error
	if errors.As(err, &intr) {
		// End as the interrupted step would have: a ^C is a ^C (130).
		fmt.Fprintf(os.Stderr, "np: %v\n", err)
		proc.Reraise(intr.Sig)
		os.Exit(128 + int(intr.Sig))
	}
	// np's own failure (one line, 125/126/127), or the way the program
	// ended.
	launch.Exit(ws, err)
}

// callerFDs are the descriptors >= 3 np's caller passed to it; they reach
// the user's program, and only it. Taken when a command is about to run a
// program, not at start (np --version, help and link never need them):
// np opens everything close-on-exec (Go does), so every fd >= 3 without
// it is still one the caller passed on purpose.
var callerFDs = sync.OnceValue(proc.InheritedFDs)

// usageError is a command-line mistake.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see np --help)" }

// app is what main hands every command: np's configuration, read once
// from the environment, or why it could not be read. Commands that need no
// configuration (help, link) run even when it is bad.
type app struct {
	c   *config.Config
	err error
}

func loadApp() *app {
	c, err := config.Load(os.Getenv)
	return &app{c: c, err: err}
}

// config is the configuration, with logging set up as NP_DEBUG asks.
func (ap *app) config() (*config.Config, error) {
	if ap.err != nil {
		return nil, ap.err
	}
	logrus.SetLevel(ap.c.LogLevel)
	return ap.c, nil
}

// session is np ready to run programs (package session).
func (ap *app) session() (*session.Session, error) {
	c, err := ap.config()
	if err != nil {
		return nil, err
	}
	return session.Prepare(c, callerFDs())
}

// logFormatter prints "np[debug]: message" lines.
type logFormatter struct{}

func (logFormatter) Format(e *logrus.Entry) ([]byte, error) {
	return []byte(fmt.Sprintf("np[%s]: %s\n", e.Level, e.Message)), nil
}
