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

// TestStartsWithoutTheKernelsEntropy: np installs, builds and runs on a
// kernel whose entropy pool is not initialised (the "no-entropy" filter
// answers getrandom as such a kernel does, failing a call that would
// block). An old kernel in a VM without a hardware RNG stays so for
// minutes after boot, and np once waited there for every command
// ("crypto/rand: blocked for 60 seconds"). On kernels with the vDSO's
// getrandom (6.11+) a ready pool is read without a system call the filter
// sees; integration/kernels.sh runs this test on kernels without it (5.10,
// 6.1, 4.4.178, 3.10.0-el7), and np's probes on 4.4.178 really starved.
func TestStartsWithoutTheKernelsEntropy(t *testing.T) {
	h := hostileHost{name: "no-entropy", filters: []string{"no-entropy"}}
	loc := newLocation(t)
	expr := `derivation { name = "no-entropy"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built-without-entropy > $out"]; }`
	r := h.np(t, runOpts{loc: loc}, "nix-build", "--no-out-link", "--option", "sandbox", "false", "-E", expr)
	out := strings.TrimSpace(must(t, r))
	if strings.Contains(r.stderr, "crypto/rand") || strings.Contains(r.stderr, "blocked for") {
		t.Errorf("np's first run mentions randomness:\n%s", r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil || string(data) != "built-without-entropy\n" {
		t.Fatalf("build output %q (%v)", data, err)
	}
	// The install signed np's own paths with its one-time key: Nix trusts them.
	must(t, h.np(t, runOpts{loc: loc}, "nix", "store", "verify", "--all"))
	if ls := must(t, h.np(t, runOpts{loc: loc}, "run", "ls", "/")); !containsLine(ls, "nix") {
		t.Fatalf("ls / does not list nix:\n%s", ls)
	}
}
