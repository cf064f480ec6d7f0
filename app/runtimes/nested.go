package runtimes

import (
	"fmt"
	"os"

	"github.com/np-portable/np/internal/config"
)

// locationElsewhere says whether NP_LOCATION, set by the user, names a data
// dir whose nix is not the /nix the native runtime would use. Inside np,
// /nix is the outer np's data dir; an inner np given another NP_LOCATION
// must not silently use the outer store. The answer compares the
// directories themselves (device and inode), so an np inside np with the
// same NP_LOCATION still runs natively.
func locationElsewhere(c *config.Config) (bool, string) {
	if !c.LocationSet {
		return false, ""
	}
	ours := c.DataDir.Nix()
	a, errA := os.Stat(ours)
	b, errB := os.Stat("/nix")
	if errA == nil && errB == nil && os.SameFile(a, b) {
		return false, ""
	}
	return true, fmt.Sprintf("NP_LOCATION=%s names the data dir %s, whose nix is not this /nix", c.Location, c.DataDir)
}
