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
//
//np:kernel-set hostile
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
// ("crypto/rand: blocked for 60 seconds"); Nix may wait there, which np
// says once, with the fix. On kernels with the vDSO's
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
	// Nix (libsodium) may wait for such a pool, which np cannot prevent:
	// its first run says so once, with the fix, before Nix starts.
	const starved = "the kernel's entropy pool is not initialised yet: Nix may wait for it"
	if n := strings.Count(r.stderr, starved); n != 1 || !strings.Contains(r.stderr, "start rngd (rng-tools) or haveged") {
		t.Errorf("np's first run says %d times that Nix may wait for the pool (want once, with the fix):\n%s", n, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil || string(data) != "built-without-entropy\n" {
		t.Fatalf("build output %q (%v)", data, err)
	}
	// The install signed np's own paths with its one-time key: Nix trusts them.
	if v := h.np(t, runOpts{loc: loc}, "nix", "store", "verify", "--all"); v.code != 0 || strings.Contains(v.stderr, starved) {
		t.Fatalf("nix store verify after the install: exit %d (want 0, and no word on the pool)\n%s", v.code, v.stderr)
	}
	if d := h.np(t, runOpts{loc: loc}, "doctor"); d.code != 0 || !strings.Contains(d.stdout, "warning:    "+starved) {
		t.Fatalf("np doctor: exit %d, want 0 and a warning that Nix may wait for the pool:\n%s%s", d.code, d.stdout, d.stderr)
	}
	if ls := must(t, h.np(t, runOpts{loc: loc}, "run", "ls", "/")); !containsLine(ls, "nix") {
		t.Fatalf("ls / does not list nix:\n%s", ls)
	}
}
