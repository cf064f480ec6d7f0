//go:build prepared

// The tests here compile the container engines' real profiles, which
// make profiles fetches (build/profiles): they need the host prepared.

package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

var withPtrace = append(slices.Clone(DockerDefaultCaps), "CAP_SYS_PTRACE")

// compileFetched compiles a profile that make profiles fetched.
func compileFetched(t *testing.T, name string, c Container) []unix.SockFilter {
	t.Helper()
	dir, err := ProfileDir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(filepath.Join(dir, ociProfiles[name]))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := p.Compile(c)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return prog
}

// ociVerdicts are what each compiled profile does with the calls np and a
// user care about, for a container with Docker's default capabilities and
// with CAP_SYS_PTRACE added, on a current kernel unless said.
var ociVerdicts = []struct {
	c call
	// docker-current, +ptrace, docker-20.10, +ptrace, podman, +ptrace
	want [6]uint32
}{
	{native("read", unix.SYS_READ), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("write", unix.SYS_WRITE), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, unix.CLONE_NEWUSER), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("unshare(CLONE_FS)", unix.SYS_UNSHARE, unix.CLONE_FS), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("clone(CLONE_NEWUSER|SIGCHLD)", unix.SYS_CLONE, unix.CLONE_NEWUSER|uint64(unix.SIGCHLD)), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("clone(CLONE_NEWNS|SIGCHLD)", unix.SYS_CLONE, unix.CLONE_NEWNS|uint64(unix.SIGCHLD)), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("clone(SIGCHLD), a fork", unix.SYS_CLONE, uint64(unix.SIGCHLD)), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("clone of a thread", unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("clone3", unix.SYS_CLONE3), [6]uint32{enosys, enosys, enosys, enosys, allow, allow}},
	{native("process_vm_readv", unix.SYS_PROCESS_VM_READV), [6]uint32{allow, allow, eperm, allow, allow, allow}},
	{native("process_vm_writev", unix.SYS_PROCESS_VM_WRITEV), [6]uint32{allow, allow, eperm, allow, allow, allow}},
	{native("pidfd_getfd", unix.SYS_PIDFD_GETFD), [6]uint32{eperm, allow, eperm, allow, allow, allow}},
	{native("kcmp", unix.SYS_KCMP), [6]uint32{eperm, allow, eperm, allow, eperm, allow}},
	{native("ptrace (kernel >= 4.8)", unix.SYS_PTRACE), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("personality(PER_LINUX)", unix.SYS_PERSONALITY, 0), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("personality(0xffffffff), a query", unix.SYS_PERSONALITY, 0xffffffff), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("personality(ADDR_NO_RANDOMIZE)", unix.SYS_PERSONALITY, 0x0040000), [6]uint32{eperm, eperm, eperm, eperm, enosys, enosys}},
	{native("personality(1<<32), on 64 bits", unix.SYS_PERSONALITY, 1<<32), [6]uint32{eperm, eperm, eperm, eperm, enosys, enosys}},
	{native("socket(AF_INET)", unix.SYS_SOCKET, unix.AF_INET), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("socket(AF_VSOCK)", unix.SYS_SOCKET, unix.AF_VSOCK), [6]uint32{eperm, eperm, allow, allow, allow, allow}},
	{native("socket(AF_NETLINK, NETLINK_AUDIT)", unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT), [6]uint32{allow, allow, allow, allow, allow, allow}},
	{native("setns", unix.SYS_SETNS), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("mount", unix.SYS_MOUNT), [6]uint32{eperm, eperm, eperm, eperm, allow, allow}},
	{native("fchmodat2", unix.SYS_FCHMODAT2), [6]uint32{allow, allow, enosys, enosys, allow, allow}},
	{native("io_uring_setup", unix.SYS_IO_URING_SETUP), [6]uint32{eperm, eperm, allow, allow, enosys, enosys}},
	{native("vmsplice", unix.SYS_VMSPLICE), [6]uint32{allow, allow, allow, allow, eperm, eperm}},
	{native("a number past every table", 1000), [6]uint32{enosys, enosys, enosys, enosys, enosys, enosys}},
	{native("-1, a tracer skipping a call", 0xffffffff), [6]uint32{enosys, enosys, enosys, enosys, enosys, enosys}},
	{call{what: "a foreign arch's read", arch: unix.AUDIT_ARCH_PPC64LE, nr: 3}, [6]uint32{kill, kill, kill, kill, kill, kill}},
}

// ociVariants are the filters of ociVerdicts' columns.
var ociVariants = []string{"docker-current", "docker-current+ptrace", "docker-20.10", "docker-20.10+ptrace", "podman", "podman+ptrace"}

func compileVariant(t *testing.T, variant string, kernel [2]int) []unix.SockFilter {
	t.Helper()
	name, ptrace := strings.CutSuffix(variant, "+ptrace")
	caps := DockerDefaultCaps
	if ptrace {
		caps = withPtrace
	}
	return compileFetched(t, name, Container{Caps: caps, Kernel: kernel})
}

func TestOCIProfileVerdicts(t *testing.T) {
	for i, variant := range ociVariants {
		prog := compileVariant(t, variant, [2]int{6, 18})
		for _, v := range ociVerdicts {
			if got := verdictOf(t, prog, v.c); got != v.want[i] {
				t.Errorf("%s: %s: %s, want %s", variant, v.c.what, verdictName(got), verdictName(v.want[i]))
			}
		}
	}
}

// TestOCIPtraceNeedsKernel48: before Linux 4.8 a filter could not see what
// a tracer changed, so the Docker profiles allow ptrace (and Docker now
// process_vm_*) only from 4.8 unless the container has CAP_SYS_PTRACE.
func TestOCIPtraceNeedsKernel48(t *testing.T) {
	want := map[string][3]uint32{ // ptrace, process_vm_readv, pidfd_getfd on 4.4
		"docker-current": {eperm, eperm, eperm}, "docker-current+ptrace": {allow, allow, allow},
		"docker-20.10": {eperm, eperm, eperm}, "docker-20.10+ptrace": {allow, allow, allow},
		"podman": {allow, allow, allow}, "podman+ptrace": {allow, allow, allow},
	}
	for _, variant := range ociVariants {
		prog := compileVariant(t, variant, [2]int{4, 4})
		for i, c := range []call{native("ptrace", unix.SYS_PTRACE), native("process_vm_readv", unix.SYS_PROCESS_VM_READV), native("pidfd_getfd", unix.SYS_PIDFD_GETFD)} {
			if got := verdictOf(t, prog, c); got != want[variant][i] {
				t.Errorf("%s on Linux 4.4: %s: %s, want %s", variant, c.what, verdictName(got), verdictName(want[variant][i]))
			}
		}
	}
}

// TestPodmanAuditSocketNeedsAuditWrite: two comparisons ANDed in one rule,
// for a container without CAP_AUDIT_WRITE.
func TestPodmanAuditSocketNeedsAuditWrite(t *testing.T) {
	var caps []string
	for _, c := range DockerDefaultCaps {
		if c != "CAP_AUDIT_WRITE" {
			caps = append(caps, c)
		}
	}
	prog := compileFetched(t, "podman", Container{Caps: caps, Kernel: [2]int{6, 18}})
	for _, c := range []struct {
		c    call
		want uint32
	}{
		{native("socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)", unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT), einval},
		{native("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE), allow},
		{native("socket(AF_INET, SOCK_RAW, 9)", unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW, 9), allow},
	} {
		if got := verdictOf(t, prog, c.c); got != c.want {
			t.Errorf("%s: %s, want %s", c.c.what, verdictName(got), verdictName(c.want))
		}
	}
}

// TestOCIProfilesForReal execs this test binary under each compiled
// profile and checks what real calls return there: what the kernel says
// where the filter lets a call through (a Go program has threads, so the
// kernel refuses unshare(CLONE_NEWUSER) with EINVAL; unshare(CLONE_FS)
// works), the profile's errno where it does not.
func TestOCIProfilesForReal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := RunningKernel()
	if err != nil {
		t.Fatal(err)
	}
	if kernel[0] < 5 || kernel[0] == 5 && kernel[1] < 6 {
		t.Fatalf("kernel %d.%d: this test's calls need Linux 5.6 (pidfd_getfd)", kernel[0], kernel[1])
	}
	const (
		ok     = "ok"
		perm   = "operation not permitted"
		nosys  = "function not implemented"
		inval  = "invalid argument"
		badf   = "bad file descriptor"
		noent  = "no such file or directory"
		noproc = "no such process"
	)
	lines := []string{"unshare(CLONE_FS)", "unshare(CLONE_NEWUSER)", "clone3", "process_vm_readv", "pidfd_getfd", "ptrace", "setns", "fchmodat2", "personality(query)", "fork+exec"}
	want := map[string][]string{
		"docker-current":        {perm, perm, nosys, ok, perm, noproc, perm, noent, ok, ok},
		"docker-current+ptrace": {perm, perm, nosys, ok, ok, noproc, perm, noent, ok, ok},
		"docker-20.10":          {perm, perm, nosys, perm, perm, noproc, perm, nosys, ok, ok},
		"docker-20.10+ptrace":   {perm, perm, nosys, ok, ok, noproc, perm, nosys, ok, ok},
		"podman":                {ok, inval, inval, ok, ok, noproc, badf, noent, ok, ok},
		"podman+ptrace":         {ok, inval, inval, ok, ok, noproc, badf, noent, ok, ok},
	}
	if kernel[0] < 6 || kernel[0] == 6 && kernel[1] < 6 {
		t.Fatalf("kernel %d.%d: fchmodat2 needs Linux 6.6", kernel[0], kernel[1])
	}
	for _, variant := range ociVariants {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "HOSTILE_TEST_FILTERS=oci:"+variant, "HOSTILE_TEST_PROBE=oci")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: helper: %v\n%s", variant, err, out)
		}
		var w strings.Builder
		for i, l := range lines {
			fmt.Fprintf(&w, "%s: %s\n", l, want[variant][i])
		}
		if string(out) != w.String() {
			t.Errorf("under oci:%s:\n%s\nwant:\n%s", variant, out, w.String())
		}
	}
}

// TestDocker2010ProfileRefusesWhatWasMeasured: Docker 20.10's profile,
// compiled, refuses what a real 20.10 container was measured to refuse
// (the hand-made no-unshare, no-process-vm and no-pidfd-getfd filters),
// with the same errno, and with CAP_SYS_PTRACE allows all but unshare.
func TestDocker2010ProfileRefusesWhatWasMeasured(t *testing.T) {
	plain := compileVariant(t, "docker-20.10", [2]int{6, 18})
	ptrace := compileVariant(t, "docker-20.10+ptrace", [2]int{6, 18})
	for _, f := range []string{"no-unshare", "no-process-vm", "no-pidfd-getfd"} {
		measured, err := Filters[f]()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []call{
			native("unshare(CLONE_FS)", unix.SYS_UNSHARE, unix.CLONE_FS),
			native("process_vm_readv", unix.SYS_PROCESS_VM_READV),
			native("process_vm_writev", unix.SYS_PROCESS_VM_WRITEV),
			native("pidfd_getfd", unix.SYS_PIDFD_GETFD),
		} {
			want := verdictOf(t, measured, c)
			if want == allow {
				continue // not this filter's call
			}
			if got := verdictOf(t, plain, c); got != want {
				t.Errorf("%s: compiled %s, measured (%s) %s", c.what, verdictName(got), f, verdictName(want))
			}
			wantPtrace := allow
			if c.nr == unix.SYS_UNSHARE {
				wantPtrace = eperm
			}
			if got := verdictOf(t, ptrace, c); got != wantPtrace {
				t.Errorf("%s with CAP_SYS_PTRACE: %s, want %s", c.what, verdictName(got), verdictName(wantPtrace))
			}
		}
	}
}
