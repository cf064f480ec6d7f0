package ptrace

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

func TestUnixSocketsUnderNix(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		name := "/nix/dir/s" + map[bool]string{false: "1", true: "2"}[ns] + ".sock"
		expect(t, traced(t, f.nix, ns, f.hostOps, "sock", name), name+"\n")
		if fi, err := os.Lstat(f.nix + name[len("/nix"):]); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("socket in the data dir: %v %v", fi, err)
		}
		os.Remove(f.nix + name[len("/nix"):])
		dgram := "/nix/dir/d" + map[bool]string{false: "1", true: "2"}[ns] + ".sock"
		expect(t, traced(t, f.nix, ns, f.hostOps, "dgram", dgram), "dgram ok\n")
		os.Remove(f.nix + dgram[len("/nix"):])
	})
}

// TestUnixSocketsWithALongDataDir: the host path does not fit in
// sun_path, the guest path does.
func TestUnixSocketsWithALongDataDir(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.MkdirAll(long+"/var", 0o755); err != nil {
		t.Fatal(err)
	}
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, long, ns, f.hostOps, "sock", "/nix/var/x.sock"), "/nix/var/x.sock\n")
		if fi, err := os.Lstat(long + "/var/x.sock"); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("socket in the data dir: %v %v", fi, err)
		}
		os.Remove(long + "/var/x.sock")
	})
}

// TestUnixSocketsWithALongDataDirUnderLandlock: a program restricted by
// Landlock (as Nix 2.34 restricts its builders) binds and connects to a
// socket whose host path does not fit in sun_path. Landlock refuses such
// a program ptrace access to processes outside its domain, so a short
// name through the tracer's /proc/<pid>/fd failed with EACCES (Nix's
// recursive builds: "cannot connect to socket at …/.nix-socket:
// Permission denied"). On a kernel without Landlock (before 5.13, or
// not enabled at boot: Nix's builders then run unrestricted too) the
// program runs unrestricted and the test checks the short path alone;
// the helper says so on stderr.
func TestUnixSocketsWithALongDataDirUnderLandlock(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.MkdirAll(long+"/var", 0o755); err != nil {
		t.Fatal(err)
	}
	f := getFixture(t)
	self, _ := os.Executable()
	modes(t, func(t *testing.T, ns bool) {
		var out, errOut strings.Builder
		ws, err := Run(launch.Spec{NixDir: long, Argv: []string{self, f.hostOps, "sock", "/nix/var/l.sock"},
			Env: append(testEnv(), helperEnv+"=landlocked"), Stdout: &out, Stderr: &errOut},
			Options{NoSeccomp: ns, NoNotify: noNotifyForTests})
		if err != nil || ws != 0 || out.String() != "/nix/var/l.sock\n" {
			t.Errorf("landlocked bind and connect: %v %v %q %q", ws, err, out.String(), errOut.String())
		}
		os.Remove(long + "/var/l.sock")
	})
}

// landlocked restricts itself with a Landlock ruleset (one that handles
// only making character devices, so files are as before) and execs argv.
func landlocked(argv []string) int {
	runtime.LockOSThread()  // Landlock restricts the calling thread; exec keeps it
	const makeChar = 1 << 7 // LANDLOCK_ACCESS_FS_MAKE_CHAR
	attr := [8]byte{makeChar}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e == unix.ENOSYS || e == unix.EOPNOTSUPP {
		fmt.Fprintln(os.Stderr, "no Landlock on this kernel:", e)
		return execArgv(argv)
	}
	if e != 0 {
		fmt.Fprintln(os.Stderr, "landlock_create_ruleset:", e)
		return 3
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "no_new_privs:", err)
		return 3
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		fmt.Fprintln(os.Stderr, "landlock_restrict_self:", e)
		return 3
	}
	return execArgv(argv)
}

func execArgv(argv []string) int {
	err := unix.Exec(argv[0], argv, testEnv())
	fmt.Fprintln(os.Stderr, "exec:", err)
	return 3
}
