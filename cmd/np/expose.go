package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/np-portable/np/app/expose"
	"github.com/np-portable/np/internal/proc"
)

func cmdExpose(ap *app, args []string) (syscall.WaitStatus, error) {
	remove := false
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		return cmdHelp(ap, []string{"expose"})
	}
	if len(args) > 0 && args[0] == "--remove" {
		remove, args = true, args[1:]
	}
	if len(args) != 1 {
		return 0, &usageError{"np expose needs exactly one directory"}
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return 0, fmt.Errorf("resolving %s: %w", args[0], err)
	}
	s, err := ap.session()
	if err != nil {
		return 0, err
	}
	if remove {
		n, err := expose.Remove(s.C, dir)
		if err != nil {
			return proc.ExitStatus(0), err
		}
		fmt.Printf("removed %d wrappers from %s\n", n, dir)
		return proc.ExitStatus(0), nil
	}
	n, profile, skipped, err := expose.Add(s.C, s.Ch.Current(), dir)
	if err != nil {
		return 0, err
	}
	fmt.Printf("exposed %s of %s in %s; kept in sync by np from now on.\nPut it on PATH, e.g. in ~/.profile: export PATH=\"%s:$PATH\"\n", plural(n, "program"), profile, dir, dir)
	if len(skipped) > 0 {
		return 0, fmt.Errorf("left %d existing files alone (not np's wrappers): %v; remove them or choose another directory", len(skipped), skipped)
	}
	return proc.ExitStatus(0), nil
}

// plural is "1 program", "2 programs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// runWrapper makes np, started as np WrapperArg WRAPPER ARGS... by an np
// expose wrapper's #! line, the np run WRAPPER's last line would do in sh:
// the same NP_LOCATION, program and arguments.
func runWrapper() error {
	w, err := expose.Wrapped(os.Args[2])
	if err != nil {
		return err
	}
	if w.LocationSet {
		os.Setenv("NP_LOCATION", w.Location)
	}
	os.Args = append([]string{os.Args[0], "run", w.Program}, os.Args[3:]...)
	return nil
}
