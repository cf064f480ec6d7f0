package install

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
)

// Repair checks every store path of np's own Nix against the payload, byte
// for byte, and installs again what is missing or differs (np repair). It
// says what it found and what it did on log.
func Repair(c *config.Config, log io.Writer) error {
	if err := c.CheckDataDir(); err != nil {
		return err
	}
	ch, err := runtimes.New(c)
	if err != nil {
		return err
	}
	nixDir := ch.Current().NixDir()
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return err
	}
	fp := payload.Trailer.Fingerprint()
	payload.Close()
	target := extract.Target{NixDir: nixDir}
	before := target.FullCheck(fp)
	var damaged *extract.DamagedError
	if errors.As(before, &damaged) {
		// Not the damage error itself: it ends "run np repair".
		fmt.Fprintf(log, "np: repairing np's Nix in %s: %s\n", damaged.NixDir, strings.Join(damaged.What, "; "))
	} else if before != nil {
		fmt.Fprintf(log, "np: repairing np's Nix: %v\n", before)
	}
	if _, err := EnsureNix(c, ch, true); err != nil {
		return err
	}
	if err := target.FullCheck(fp); err != nil {
		return fmt.Errorf("repairing np's Nix: still damaged afterwards: %w", err)
	}
	if before != nil {
		fmt.Fprintf(log, "np: repaired np's Nix in %s\n", nixDir)
	} else {
		fmt.Fprintf(log, "np: np's Nix in %s is intact (registered again)\n", nixDir)
	}
	return nil
}

// ForgetOthers forgets every other np version that installed into nixDir
// (its install record and GC roots; this np's are kept), so a garbage
// collection frees what only they used. It returns this np's payload
// fingerprint and those it forgot.
func ForgetOthers(nixDir string) (string, []string, error) {
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return "", nil, err
	}
	keep := payload.Trailer.Fingerprint()
	payload.Close()
	forgot, err := extract.Target{NixDir: nixDir}.ForgetOthers(keep)
	if err != nil {
		return "", nil, fmt.Errorf("forgetting other np versions: %w", err)
	}
	return keep, forgot, nil
}
