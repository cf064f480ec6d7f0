package main

import (
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/internal/proc"
)

// cmdLink creates DIR/<tool> -> np for every Nix tool.
func cmdLink(_ *app, args []string) (syscall.WaitStatus, error) {
	if len(args) != 1 || args[0] == "" {
		// An empty name would mean the current directory to filepath.Abs:
		// links dropped where the user did not ask for them.
		return 0, &usageError{"np link needs exactly one directory, not an empty name"}
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return 0, fmt.Errorf("resolving %s: %w", args[0], err)
	}
	self, skipped, err := nixenv.Link(dir)
	if err != nil {
		return 0, err
	}
	fmt.Printf("linked %d Nix tools in %s to %s\n", len(nixenv.Tools)-len(skipped), dir, self)
	if len(skipped) > 0 {
		return 0, fmt.Errorf("left %d existing files alone (not links to np): %v; remove them or choose another directory", len(skipped), skipped)
	}
	return proc.ExitStatus(0), nil
}
