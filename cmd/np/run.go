package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/internal/proc"
)

// runNix runs a tool of the bundled Nix: argv[0] is the tool's name, shown
// how the user called it (np nix, or nix through a link).
func runNix(ap *app, argv []string, shown string) (syscall.WaitStatus, error) {
	if len(argv) == 1 && argv[0] == "nix" {
		// Nix would name itself by its store path in its hint.
		fmt.Fprintf(os.Stderr, "error: no subcommand specified\nTry '%s --help' for more information.\n", shown)
		return proc.ExitStatus(1), nil
	}
	if err := nixenv.CheckHome(); err != nil {
		return 0, err
	}
	s, err := ap.session()
	if err != nil {
		return 0, err
	}
	return s.RunNix(argv)
}

func cmdRun(ap *app, args []string) (syscall.WaitStatus, error) {
	// np run's own options come before PROGRAM: `np run prog --help` is
	// prog's help.
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		return cmdHelp(ap, []string{"run"})
	}
	s, err := ap.session()
	if err != nil {
		return 0, err
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "sh"
		}
		args = []string{sh}
	}
	return s.Exec(args)
}
