package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/np-portable/np/extract"
)

const repairHelp = `Checks every store path of np's own Nix (Nix, busybox, the CA bundle)
against the payload this np carries, byte for byte (their NAR hashes), and
restores each one that is missing or differs from the payload; then
registers them with Nix again and rewrites np's nix.conf. Your own store
paths are never touched. Every run checks np's own files cheaply (sizes,
permissions, times) and, when one is missing or altered, exits 125 saying
"np's Nix in DIR is damaged; run np repair".`

// cmdRepair is `np repair`.
func cmdRepair(args []string) (syscall.WaitStatus, error) {
	if len(args) != 0 {
		return 0, &usageError{"np repair takes no arguments"}
	}
	c, err := loadConfig(os.Getenv)
	if err != nil {
		return 0, err
	}
	setupLogging(c)
	if err := c.checkDataDir(); err != nil {
		return 0, err
	}
	ch, err := newChooser(c)
	if err != nil {
		return 0, err
	}
	nixDir := ch.current().nixDir()
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	fp := payload.Trailer.Fingerprint()
	payload.Close()
	target := extract.Target{NixDir: nixDir}
	before := target.FullCheck(fp)
	var damaged *extract.DamagedError
	if errors.As(before, &damaged) {
		// Not the damage error itself: it ends "run np repair".
		fmt.Fprintf(os.Stderr, "np: repairing np's Nix in %s: %s\n", damaged.NixDir, strings.Join(damaged.What, "; "))
	} else if before != nil {
		fmt.Fprintf(os.Stderr, "np: repairing np's Nix: %v\n", before)
	}
	if _, err := ensureNix(c, ch, true); err != nil {
		return 0, err
	}
	if err := target.FullCheck(fp); err != nil {
		return 0, fmt.Errorf("repairing np's Nix: still damaged afterwards: %w", err)
	}
	if before != nil {
		fmt.Fprintf(os.Stderr, "np: repaired np's Nix in %s\n", nixDir)
	} else {
		fmt.Fprintf(os.Stderr, "np: np's Nix in %s is intact (registered again)\n", nixDir)
	}
	return exitStatus(0), nil
}

// ownStoreDamage is doctor's cheap check of np's own store paths, in the
// data dir and in a host /nix used natively.
func ownStoreDamage(c *config, p *extract.Payload) error {
	var errs []error
	for _, dir := range []string{filepath.Join(c.DataDir, "nix"), "/nix"} {
		errs = append(errs, (extract.Target{NixDir: dir}).Check(p.Trailer.Fingerprint()))
	}
	return errors.Join(errs...)
}
