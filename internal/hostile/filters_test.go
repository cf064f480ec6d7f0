package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

func TestLinux310FilterVerdicts(t *testing.T) {
	prog, err := linux310Filter()
	if err != nil {
		t.Fatal(err)
	}
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	cases := []struct {
		name string
		arch uint32
		nr   uint32
		want uint32
	}{
		{"openat", auditArch, unix.SYS_OPENAT, allow},
		{"execve", auditArch, unix.SYS_EXECVE, allow},
		{"clone", auditArch, unix.SYS_CLONE, allow},
		{"finit_module, the last of 3.10", auditArch, lastLinux310Syscall, allow},
		{"the first after 3.10", auditArch, lastLinux310Syscall + 1, enosys},
		{"statx", auditArch, unix.SYS_STATX, enosys},
		{"getrandom", auditArch, unix.SYS_GETRANDOM, enosys},
		{"seccomp", auditArch, unix.SYS_SECCOMP, enosys},
		{"execveat", auditArch, unix.SYS_EXECVEAT, enosys},
		{"clone3", auditArch, unix.SYS_CLONE3, enosys},
		{"openat2", auditArch, unix.SYS_OPENAT2, enosys},
		{"faccessat2", auditArch, unix.SYS_FACCESSAT2, enosys},
		{"renameat2", auditArch, unix.SYS_RENAMEAT2, enosys},
		{"-1, a tracer skipping a call", auditArch, 0xffffffff, allow},
		{"foreign arch", auditArch + 1, unix.SYS_STATX, allow},
	}
	for _, c := range cases {
		if got := run(t, prog, c.arch, c.nr, 0); got != c.want {
			t.Errorf("%s (%d): verdict %#x, want %#x", c.name, c.nr, got, c.want)
		}
	}
}

func TestDenyPtraceFilterVerdicts(t *testing.T) {
	prog, err := denyPtraceFilter()
	if err != nil {
		t.Fatal(err)
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	cases := []struct {
		name string
		arch uint32
		nr   uint32
		want uint32
	}{
		{"ptrace", auditArch, unix.SYS_PTRACE, eperm},
		{"process_vm_readv", auditArch, unix.SYS_PROCESS_VM_READV, eperm},
		{"process_vm_writev", auditArch, unix.SYS_PROCESS_VM_WRITEV, eperm},
		{"getpid", auditArch, unix.SYS_GETPID, allow},
		{"unshare", auditArch, unix.SYS_UNSHARE, allow},
		{"foreign arch", auditArch + 1, unix.SYS_PTRACE, allow},
	}
	for _, c := range cases {
		if got := run(t, prog, c.arch, c.nr, 0); got != c.want {
			t.Errorf("%s: verdict %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestNoEntropyFilterVerdicts(t *testing.T) {
	prog, err := noEntropyFilter()
	if err != nil {
		t.Fatal(err)
	}
	eio := unix.SECCOMP_RET_ERRNO | uint32(unix.EIO)
	eagain := unix.SECCOMP_RET_ERRNO | uint32(unix.EAGAIN)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	cases := []struct {
		name  string
		arch  uint32
		nr    uint32
		flags uint64
		want  uint32
	}{
		{"getrandom that would block", auditArch, unix.SYS_GETRANDOM, 0, eio},
		{"getrandom GRND_RANDOM", auditArch, unix.SYS_GETRANDOM, unix.GRND_RANDOM, eio},
		{"getrandom GRND_NONBLOCK", auditArch, unix.SYS_GETRANDOM, unix.GRND_NONBLOCK, eagain},
		{"getrandom GRND_NONBLOCK|GRND_RANDOM", auditArch, unix.SYS_GETRANDOM, unix.GRND_NONBLOCK | unix.GRND_RANDOM, eagain},
		{"read", auditArch, unix.SYS_READ, 0, allow},
		{"foreign arch", auditArch + 1, unix.SYS_GETRANDOM, 0, allow},
	}
	for _, c := range cases {
		got, err := bpf.Run(prog, bpf.Data{Nr: int32(c.nr), Arch: c.arch, Args: [6]uint64{0, 16, c.flags}})
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: verdict %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestExecUnderUnknownFilterFails(t *testing.T) {
	err := ExecUnderFilters([]string{"no-such-host"}, []string{"/bin/true"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no-such-host") {
		t.Fatalf("got %v", err)
	}
}

// TestFiltersForReal execs this test binary under the filters stacked the
// way the integration tests stack them and checks what the system calls
// return there.
func TestFiltersForReal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"linux-3.10": "statx: function not implemented\ngetrandom: function not implemented\n" +
			"seccomp: function not implemented\nclone3: function not implemented\n" +
			"openat2: function not implemented\nfaccessat2: function not implemented\n" +
			"ptrace: no such process\nfork+exec: ok\n",
		"no-userns,no-ptrace": "statx: ok\ngetrandom: ok\nseccomp: ok\nclone3: function not implemented\n" +
			"openat2: ok\nfaccessat2: ok\n" +
			"ptrace: operation not permitted\nfork+exec: ok\n",
		"linux-3.10,no-ptrace": "statx: function not implemented\ngetrandom: function not implemented\n" +
			"seccomp: function not implemented\nclone3: function not implemented\n" +
			"openat2: function not implemented\nfaccessat2: function not implemented\n" +
			"ptrace: operation not permitted\nfork+exec: ok\n",
	}
	for filters, want := range cases {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "HOSTILE_TEST_FILTERS="+filters)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: helper: %v\n%s", filters, err, out)
		}
		if string(out) != want {
			t.Errorf("under %s:\n%s\nwant:\n%s", filters, out, want)
		}
	}
}

func init() {
	// The test binary doubles as the program run under the filters.
	switch os.Getenv("HOSTILE_TEST_FILTERS_INNER") {
	case "":
	default:
		if os.Getenv("HOSTILE_TEST_PROBE") == "oci" {
			probeOCISyscalls()
		} else {
			probeSyscalls()
		}
		os.Exit(0)
	}
	if filters := os.Getenv("HOSTILE_TEST_FILTERS"); filters != "" {
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HOSTILE_TEST_FILTERS=") {
				env = append(env, kv)
			}
		}
		env = append(env, "HOSTILE_TEST_FILTERS_INNER=1")
		exe, _ := os.Executable()
		err := ExecUnderFilters(strings.Split(filters, ","), []string{exe}, env)
		fmt.Println("exec:", err)
		os.Exit(1)
	}
}

// probeSyscalls prints what the system calls the filters are about return.
// Each is made so it would succeed, or fail harmlessly with another errno,
// on an unfiltered host.
func probeSyscalls() {
	var stx unix.Statx_t
	fmt.Println("statx:", errText(unix.Statx(unix.AT_FDCWD, "/", 0, unix.STATX_BASIC_STATS, &stx)))
	var b [4]byte
	_, err := unix.Getrandom(b[:], 0)
	fmt.Println("getrandom:", errText(err))
	// SECCOMP_GET_ACTION_AVAIL of RET_ALLOW: succeeds where seccomp(2) exists.
	action := uint32(unix.SECCOMP_RET_ALLOW)
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action)))
	fmt.Println("seccomp:", errText(errno))
	_, _, errno = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	fmt.Println("clone3:", errText(errno))
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC}
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &how)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Println("openat2:", errText(err))
	fmt.Println("faccessat2:", errText(unix.Faccessat2(unix.AT_FDCWD, "/", unix.R_OK, unix.AT_EACCESS)))
	// PTRACE_GETREGS of a pid that cannot exist: ESRCH where ptrace is
	// allowed, EPERM where a filter refuses it; harmless either way.
	_, _, errno = unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, 1<<30, 0, 0, 0, 0)
	fmt.Println("ptrace:", errText(errno))
	fmt.Println("fork+exec:", errText(exec.Command("/bin/sh", "-c", "exit 0").Run()))
}
