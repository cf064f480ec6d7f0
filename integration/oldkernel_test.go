//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNixWorksWithOnlyLinux310Syscalls: np, its Nix and the programs they
// start cope with a kernel that has none of the system calls newer than
// Linux 3.10 (statx, getrandom, clone3, openat2, faccessat2, pidfd_open ...
// all ENOSYS), as on CentOS 7. User namespaces stay available here, so this
// checks the fallbacks to older calls, in the pass's own runtime.
func TestNixWorksWithOnlyLinux310Syscalls(t *testing.T) {
	h := hostileHost{name: "linux-3.10", filters: []string{"linux-3.10"}}
	loc := newLocation(t)
	expr := `derivation { name = "old-kernel"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built-on-3.10 > $out"]; }`
	out := strings.TrimSpace(must(t, h.np(t, runOpts{loc: loc}, "nix-build", "--no-out-link", "--option", "sandbox", "false", "-E", expr)))
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil || string(data) != "built-on-3.10\n" {
		t.Fatalf("build output %q (%v)", data, err)
	}
	if ls := must(t, h.np(t, runOpts{loc: loc}, "run", "ls", "/")); !containsLine(ls, "nix") {
		t.Fatalf("ls / does not list nix:\n%s", ls)
	}
	must(t, h.np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"))
}
