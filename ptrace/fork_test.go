package ptrace

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
)

// TestForkedChildPlacesFDs: the forked child puts the fds the caller passed
// on purpose at their numbers (with a gap between them, above the numbers
// np's own fds take) and lets no other fd of np's reach the program, not
// even one np's caller left open without close-on-exec.
func TestForkedChildPlacesFDs(t *testing.T) {
	f := getFixture(t)
	dir := t.TempDir()
	open := func(name, text string) *os.File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fh.Close() })
		return fh
	}
	// Not close-on-exec, as inherited fds are: F_DUPFD.
	dupAt := func(fh *os.File, min int) int {
		fd, err := unix.FcntlInt(fh.Fd(), unix.F_DUPFD, min)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	a := dupAt(open("a", "first\n"), 100)
	stray := dupAt(open("stray", "stray\n"), a+3)
	b := dupAt(open("b", "second\n"), stray+3)
	script := "cat /proc/self/fd/" + strconv.Itoa(a) + " /proc/self/fd/" + strconv.Itoa(b) +
		"; [ -e /proc/self/fd/" + strconv.Itoa(stray) + " ] && echo stray fd reached the program; " +
		"[ -e /proc/self/fd/" + strconv.Itoa(a+1) + " ] && echo a gap was filled; exit 0"
	modes(t, func(t *testing.T, noSeccomp bool) {
		var out, errOut strings.Builder
		ws, err := Run(launch.Spec{NixDir: f.nix, Argv: []string{"/bin/busybox", "sh", "-c", script}, Env: testEnv(),
			Stdout: &out, Stderr: &errOut, PassFDs: []int{a, b}}, Options{NoSeccomp: noSeccomp, NoNotify: noNotifyForTests})
		if err != nil {
			t.Fatalf("Run: %v (stderr %q)", err, errOut.String())
		}
		if out.String() != "first\nsecond\n" || ws.ExitStatus() != 0 {
			t.Errorf("fds %d and %d passed, %d not: stdout %q, stderr %q, status %v", a, b, stray, out.String(), errOut.String(), ws)
		}
	})
}
