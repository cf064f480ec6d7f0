package ptrace

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCallsOfNewerNixAndGlibc: the calls Nix 2.34 and glibc 2.43 make
// that older ones did not (the census of integration/syscalls.sh), on
// paths under /nix: openat2 (Nix unpacks into the store relative to a
// directory fd, RESOLVE_BENEATH), fchmodat2 (Nix makes a tree deletable),
// statx with AT_EMPTY_PATH, clone3 (glibc's threads and posix_spawn: its
// child must be traced too, or its /nix paths would not resolve) and
// close_range (before exec).
func TestCallsOfNewerNixAndGlibc(t *testing.T) {
	f := getFixture(t)
	var st syscall.Stat_t
	if err := syscall.Stat(f.nix+"/hello", &st); err != nil {
		t.Fatal(err)
	}
	ino := fmt.Sprintln(st.Ino)
	// Under a host that refuses these calls (make unit's Linux 3.10 table,
	// NP_PTRACE_TEST_REFUSE=linux-3.10) each one must fail as it does
	// natively, ENOSYS, under the tracer too: no call may be made to work,
	// or fail differently, by np. openat2 (Linux 5.6) asked natively tells.
	native, _ := exec.Command(f.hostOps, "openat2", f.nix+"/hello").Output()
	if string(native) == "ENOSYS\n" {
		modes(t, func(t *testing.T, ns bool) {
			run := func(args ...string) runResult { return traced(t, f.nix, ns, append([]string{f.hostOps}, args...)...) }
			for _, args := range [][]string{
				{"openat2", "/nix/hello"}, {"openat2-beneath", "/nix", "hello"},
				{"fchmodat2-abs", "/nix/hello", "644"}, {"clone3", "/nix/hello"}, {"close-range", "/nix/hello"},
			} {
				expect(t, run(args...), "ENOSYS\n")
			}
			// glibc's statx falls back to fstatat where statx is refused.
			expect(t, run("statx", "/nix/hello"), ino)
			expect(t, run("statx-empty", "/nix/hello"), ino)
		})
		return
	}
	modes(t, func(t *testing.T, ns bool) {
		guest := "/nix/newcalls-" + strings.ReplaceAll(t.Name(), "/", "-")
		host := f.nix + guest[len("/nix"):]
		if err := os.Mkdir(host, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(host)
		run := func(args ...string) runResult { return traced(t, f.nix, ns, append([]string{f.hostOps}, args...)...) }

		expect(t, run("openat2", "/nix/hello"), "hello\n")
		expect(t, run("openat2", "/nix/link"), "hello\n")
		expect(t, run("openat2-beneath", "/nix", "hello"), "hello\n")
		expect(t, run("openat2-beneath", "/nix/dir", "../hello"), "EXDEV\n")
		expect(t, run("openat2-beneath", "/nix", "link"), "ELOOP\n")
		expect(t, run("openat2-create", guest, "made"), "ok\n")
		if b, err := os.ReadFile(filepath.Join(host, "made")); err != nil || string(b) != "made\n" {
			t.Errorf("openat2's file in the data dir: %q, %v", b, err)
		}
		expect(t, run("openat2-create", guest, "made"), "EEXIST\n")

		expect(t, run("fchmodat2", guest, "made", "600"), "ok\n")
		if fi, err := os.Stat(filepath.Join(host, "made")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("fchmodat2 relative to a directory fd: %v %v, want mode 600", fi, err)
		}
		expect(t, run("fchmodat2-abs", guest+"/made", "640"), "ok\n")
		if fi, err := os.Stat(filepath.Join(host, "made")); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("fchmodat2 of a /nix path: %v %v, want mode 640", fi, err)
		}
		expect(t, run("fchmodat2-abs", guest+"/missing", "600"), "ENOENT\n")

		expect(t, run("statx", "/nix/hello"), ino)
		expect(t, run("statx", "/nix/link"), ino)
		expect(t, run("statx-empty", "/nix/hello"), ino)
		expect(t, run("clone3", "/nix/hello"), "hello\nstatus 0\n")
		expect(t, run("close-range", "/nix/hello"), "fd 3 hello\n")
	})
}
