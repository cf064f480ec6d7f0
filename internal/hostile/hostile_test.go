package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// run interprets prog on one seccomp_data and returns the verdict.
func run(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	v, err := bpf.Run(prog, bpf.Data{Nr: int32(nr), Arch: arch, Args: [6]uint64{arg0}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFilterVerdicts(t *testing.T) {
	prog, err := denyNamespacesFilter()
	if err != nil {
		t.Fatal(err)
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	cases := []struct {
		name string
		arch uint32
		nr   uint32
		arg0 uint64
		want uint32
	}{
		{"clone for a thread", auditArch, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_THREAD, allow},
		{"clone for fork", auditArch, unix.SYS_CLONE, uint64(unix.SIGCHLD), allow},
		{"clone with a user namespace", auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD), eperm},
		{"clone with a mount namespace", auditArch, unix.SYS_CLONE, unix.CLONE_NEWNS, eperm},
		{"unshare user", auditArch, unix.SYS_UNSHARE, unix.CLONE_NEWUSER, eperm},
		{"unshare fs", auditArch, unix.SYS_UNSHARE, unix.CLONE_FS, allow},
		{"clone3", auditArch, unix.SYS_CLONE3, 0, enosys},
		{"getpid", auditArch, unix.SYS_GETPID, 0, allow},
		{"foreign arch", auditArch + 1, unix.SYS_CLONE, unix.CLONE_NEWUSER, allow},
	}
	for _, c := range cases {
		if got := run(t, prog, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: verdict %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestFilterForReal execs the test binary under the filter and checks what
// the system calls return there.
func TestFilterForReal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOSTILE_TEST_HELPER=outer")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := "unshare(CLONE_NEWUSER): operation not permitted\nclone3: function not implemented\nfork+exec: ok\nSeccomp: 2\n"
	if string(out) != want {
		t.Errorf("under the filter:\n%s\nwant:\n%s", out, want)
	}
}

func TestMain(m *testing.M) {
	switch os.Getenv("HOSTILE_TEST_HELPER") {
	case "outer":
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HOSTILE_TEST_HELPER=") {
				env = append(env, kv)
			}
		}
		env = append(env, "HOSTILE_TEST_HELPER=inner")
		exe, _ := os.Executable()
		err := DenyUserNamespacesAndExec([]string{exe}, env)
		fmt.Println("exec:", err)
		os.Exit(1)
	case "inner":
		fmt.Println("unshare(CLONE_NEWUSER):", errText(unix.Unshare(unix.CLONE_NEWUSER)))
		_, _, errno := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		fmt.Println("clone3:", errText(errno))
		fmt.Println("fork+exec:", errText(exec.Command("/bin/sh", "-c", "exit 0").Run()))
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Seccomp:") {
				fmt.Println("Seccomp:", strings.TrimSpace(strings.TrimPrefix(l, "Seccomp:")))
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func errText(err error) string {
	if err == nil || err == unix.Errno(0) {
		return "ok"
	}
	return err.Error()
}
