package main

import (
	"os"
	"syscall"

	"github.com/np-portable/np/app/install"
	"github.com/np-portable/np/internal/proc"
)

const repairHelp = `Checks every store path of np's own Nix (Nix, busybox, the CA bundle)
against the payload this np carries, byte for byte (their NAR hashes), and
restores each one that is missing or differs from the payload; then
registers them with Nix again and rewrites np's nix.conf. Your own store
paths are never touched. Every run checks np's own files cheaply (sizes,
permissions, times) and, when one is missing or altered, exits 125 saying
"np's Nix in DIR is damaged; run np repair".`

// cmdRepair is `np repair`.
func cmdRepair(ap *app, args []string) (syscall.WaitStatus, error) {
	if len(args) != 0 {
		return 0, &usageError{"np repair takes no arguments"}
	}
	c, err := ap.config()
	if err != nil {
		return 0, err
	}
	if err := install.Repair(c, os.Stderr); err != nil {
		return 0, err
	}
	return proc.ExitStatus(0), nil
}
