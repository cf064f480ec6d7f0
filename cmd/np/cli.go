package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/internal/manshim"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/suggest"
)

// version is np's own version; the Makefile sets it from git.
var version = "dev"

// command is one np subcommand.
type command struct {
	usage   string
	summary string
	help    string
	run     func(ap *app, args []string) (syscall.WaitStatus, error)
}

func commands() map[string]*command {
	return map[string]*command{
		"run": {
			usage:   "np run PROGRAM [ARGS...]",
			summary: "run any program where /nix is np's store",
			help: `Runs PROGRAM inside np's environment: /nix is np's store, np's Nix is first
on PATH, then your Nix profile's bin, then your PATH. PROGRAM is looked up on
that PATH, so programs installed with nix-env or nix profile work, and so do
host programs. Each data dir has its own profile (DATA_DIR/state/profile),
channels and np expose directories. Without a program to run, np run starts $SHELL (else sh).`,
			run: cmdRun,
		},
		"link": {
			usage:   "np link DIR",
			summary: "create links named after the Nix tools in DIR",
			help: `Creates DIR/nix, DIR/nix-shell, ... as symbolic links to this np, so that
putting DIR on PATH gives you Nix's commands. Existing links to np are
replaced; other files are left alone and reported.`,
			run: cmdLink,
		},
		"expose": {
			usage:   "np expose [--remove] DIR",
			summary: "put the programs of your Nix profile on the host's PATH",
			help: `Writes into DIR a small sh wrapper for every program of your Nix profile
(this data dir's: DATA_DIR/state/profile/bin); each runs that program through
np with its own arguments, exit status and signals. Put DIR on PATH (export PATH="DIR:$PATH") and the programs you
installed with nix-env -i or nix profile add run from any shell. np keeps
DIR in sync: after every command it ran, when the profile changed (nix-env
-i/-e, nix profile add/remove, rollbacks), wrappers are added and
removed. --remove DIR removes the wrappers and forgets DIR. Files in DIR that
np did not write are left alone.`,
			run: cmdExpose,
		},
		"doctor": {
			usage:   "np doctor [--json]",
			summary: "explain which runtime works here and why",
			help: `Prints np's and Nix's versions, the data directory and its file system, the
install state, each runtime with whether it works here and the precise cause
when it does not, the runtime auto would pick and why, the CA bundle and the
nix.conf in effect. --json prints the same as one JSON object. Exits 0 when
some runtime works here, 1 otherwise.`,
			run: cmdDoctor,
		},
		"bundle": {
			usage:   bundleUsage,
			summary: "write one executable that runs a Nix-built program anywhere",
			help:    bundleHelpText,
			run:     cmdBundle,
		},
		"gc": {
			usage:   "np gc [--versions]",
			summary: "collect garbage in np's store (--versions: forget other np versions first)",
			help:    gcHelp,
			run:     cmdGC,
		},
		"repair": {
			usage:   "np repair",
			summary: "restore np's own Nix from the payload when it is damaged",
			help:    repairHelp,
			run:     cmdRepair,
		},
		"help": {
			usage:   "np help [COMMAND]",
			summary: "show help for np or one of its commands",
			run:     cmdHelp,
		},
	}
}

// run dispatches on how np was invoked: through a link named after a Nix
// tool, or as np with a command.
func run(ap *app, args []string) (syscall.WaitStatus, error) {
	if filepath.Base(args[0]) == "man" {
		// np's link in the data dir's bin, which Nix's --help runs.
		return manshim.Run(args[1:])
	}
	if name := filepath.Base(args[0]); nixenv.IsTool(name) {
		if tool, ok := nixtools.WrapperTool(args[0], os.Getenv); ok {
			// A Nix tool run inside np, through np's wrappers: the
			// data dir's profile or Nix's ordinary one, for this run.
			return 0, proc.Exec(args, tool, nixtools.Adjust(os.Environ(), args[1:]))
		}
		return runNix(ap, append([]string{name}, args[1:]...), name)
	}
	if len(args) < 2 {
		fmt.Fprint(os.Stderr, usageText())
		return 0, &usageError{"no command given"}
	}
	if a := args[1]; (a == "--help" || a == "-h" || a == "--version" || a == "-V") && len(args) > 2 {
		return 0, &usageError{fmt.Sprintf("%s takes no arguments, got %q", a, args[2:])}
	}
	switch a := args[1]; {
	case a == "--help" || a == "-h":
		fmt.Print(usageText())
		return proc.ExitStatus(0), nil
	case a == "--version" || a == "-V":
		return printVersion(ap)
	case nixenv.IsTool(a):
		return runNix(ap, args[1:], "np "+a)
	}
	cmd, ok := commands()[args[1]]
	if !ok {
		if tool := suggest.Closest(args[1], nixenv.Tools, 2); tool != "" {
			// A mistyped Nix tool is a command not found, as in a shell.
			return 0, &notFoundError{fmt.Sprintf("%s is not a Nix tool; did you mean np %s?", args[1], tool)}
		}
		if c := suggest.Closest(args[1], commandNames(), 2); c != "" {
			return 0, &usageError{fmt.Sprintf("unknown command %q; did you mean np %s?", args[1], c)}
		}
		return 0, &usageError{fmt.Sprintf("unknown command %q; run a Nix tool (np nix-shell ...), a program (np run PROGRAM), or one of: %s", args[1], strings.Join(commandNames(), ", "))}
	}
	return cmd.run(ap, args[2:])
}

// notFoundError: what np was asked to run does not exist (exit 127).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return proc.ErrNotFound }
