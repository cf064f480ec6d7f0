package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

var (
	allow  = uint32(unix.SECCOMP_RET_ALLOW)
	eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	einval = unix.SECCOMP_RET_ERRNO | uint32(unix.EINVAL)
	kill   = uint32(unix.SECCOMP_RET_KILL_THREAD)
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

// call is one system call as a filter sees it.
type call struct {
	what string
	arch uint32
	nr   uint32
	args [6]uint64
}

func native(what string, nr uint32, args ...uint64) call {
	c := call{what: what, arch: auditArch, nr: nr}
	copy(c.args[:], args)
	return c
}

func verdictOf(t *testing.T, prog []unix.SockFilter, c call) uint32 {
	t.Helper()
	v, err := bpf.Run(prog, bpf.Data{Nr: int32(c.nr), Arch: c.arch, Args: c.args})
	if err != nil {
		t.Fatalf("%s: %v", c.what, err)
	}
	return v
}

func verdictName(v uint32) string {
	switch {
	case v == allow:
		return "allow"
	case v == kill:
		return "kill"
	case v&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO:
		return unix.ErrnoName(unix.Errno(v & unix.SECCOMP_RET_DATA))
	}
	return fmt.Sprintf("%#x", v)
}

// TestCompileFollowsTheEngines: a made-up profile using every feature,
// compiled for a container and checked call by call: which rules the
// engine keeps, how libseccomp merges them, each comparison on 64 bits,
// the ENOSYS stub, and the architectures.
func TestCompileFollowsTheEngines(t *testing.T) {
	profile := `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"archMap": [{"architecture": "` + ociArch + `", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_ARM"]}],
	"syscalls": [
		{"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["write"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967298, "op": "SCMP_CMP_EQ"}]},
		{"names": ["pread64"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_NE"}]},
		{"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 65280, "valueTwo": 4608, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 4294967296, "op": "SCMP_CMP_GT"}]},
		{"names": ["getppid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_GE"}]},
		{"names": ["getuid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_LT"}]},
		{"names": ["getgid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_LE"}]},
		{"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
		{"names": ["openat"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
		{"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9},
		{"names": ["dup"], "action": "SCMP_ACT_TRACE"},
		{"names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS"},
		{"names": ["fsync"], "action": "SCMP_ACT_ERRNO"},
		{"names": ["getcwd"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_A", "CAP_B"]}},
		{"names": ["chdir"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_A", "CAP_C"]}},
		{"names": ["fchdir"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_C", "CAP_B"]}},
		{"names": ["fchmod"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.10"}},
		{"names": ["fchown"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.11"}},
		{"names": ["renameat"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
		{"names": ["mkdirat"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x", "` + ociArchName + `"]}},
		{"names": ["unlinkat"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["` + ociArchName + `"]}},
		{"names": ["setns"], "action": "SCMP_ACT_ALLOW"},
		{"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		{"names": ["umask"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18, "op": "SCMP_CMP_EQ"}]},
		{"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		{"names": ["statx"], "action": "SCMP_ACT_ALLOW"}
	]}`
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := p.Compile(Container{Caps: []string{"CAP_A", "CAP_B"}, Kernel: [2]int{5, 10}})
	if err != nil {
		t.Fatal(err)
	}
	nr := func(name string) uint32 {
		n, ok := syscallNumber(name)
		if !ok {
			t.Fatalf("no system call %s here", name)
		}
		return n
	}
	eacces := unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES)
	cases := []struct {
		c    call
		want uint32
	}{
		{native("read", nr("read")), allow},
		{native("write to the 64-bit fd", nr("write"), 1<<32|2), allow},
		{native("write with only the low word equal", nr("write"), 2), eperm},
		{native("pread64 arg1 6 (NE 5)", nr("pread64"), 0, 6), allow},
		{native("pread64 arg1 5", nr("pread64"), 0, 5), eperm},
		{native("pread64 arg1 5 + 1<<32 (NE on 64 bits)", nr("pread64"), 0, 1<<32|5), allow},
		{native("lseek 0x12af (masked 0xff00 = 0x1200)", nr("lseek"), 0x12af), allow},
		{native("lseek 0x1300", nr("lseek"), 0x1300), eperm},
		{native("lseek 1<<32|0x1200 (mask drops the high word)", nr("lseek"), 1<<32|0x1200), allow},
		{native("mmap len 1<<32+1 (GT)", nr("mmap"), 0, 0, 1<<32|1), allow},
		{native("mmap len 1<<32", nr("mmap"), 0, 0, 1<<32), eperm},
		{native("mmap len 0xffffffff", nr("mmap"), 0, 0, 0xffffffff), eperm},
		{native("mmap len 2<<32", nr("mmap"), 0, 0, 2<<32), allow},
		{native("getppid 1<<32 (GE)", nr("getppid"), 1<<32), allow},
		{native("getppid 0xffffffff", nr("getppid"), 0xffffffff), eperm},
		{native("getuid 0xffffffff (LT)", nr("getuid"), 0xffffffff), allow},
		{native("getuid 1<<32", nr("getuid"), 1<<32), eperm},
		{native("getuid 2<<32", nr("getuid"), 2<<32), eperm},
		{native("getgid 1<<32 (LE)", nr("getgid"), 1<<32), allow},
		{native("getgid 1<<32+1", nr("getgid"), 1<<32|1), eperm},
		{native("openat 1, 2 (both args)", nr("openat"), 1, 2), allow},
		{native("openat 1, 3 (one arg)", nr("openat"), 1, 3), eperm},
		{native("openat 7 (the other rule)", nr("openat"), 7, 9), allow},
		{native("close: errnoRet", nr("close")), unix.SECCOMP_RET_ERRNO | uint32(unix.EBADF)},
		{native("dup: trace, EPERM as its data", nr("dup")), unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
		{native("sync: kill the process", nr("sync")), unix.SECCOMP_RET_KILL_PROCESS},
		{native("fsync: the default's own action is skipped", nr("fsync")), eperm},
		{native("getcwd: has both caps", nr("getcwd")), allow},
		{native("chdir: lacks CAP_C", nr("chdir")), eperm},
		{native("fchdir: has CAP_B, excluded", nr("fchdir")), eperm},
		{native("fchmod: kernel 5.10 >= 5.10", nr("fchmod")), allow},
		{native("fchown: kernel 5.10 < 5.11", nr("fchown")), eperm},
		{native("renameat: another arch's rule", nr("renameat")), eperm},
		{native("mkdirat: this arch's rule", nr("mkdirat")), allow},
		{native("unlinkat: excluded on this arch", nr("unlinkat")), eperm},
		{native("setns: the first unconditional rule wins", nr("setns")), allow},
		{native("umask 022: an unconditional rule replaces conditional ones", nr("umask"), 0o22), eacces},
		{native("statx, the highest named", nr("statx")), allow},
		{native("one above the highest: runc's ENOSYS", nr("statx")+1), enosys},
		{native("-1, a tracer skipping a call", 0xffffffff), enosys},
		{native("a call no rule names, below the highest", nr("getpid")), eperm},
		{call{what: "a foreign arch", arch: unix.AUDIT_ARCH_PPC64LE, nr: nr("read")}, kill},
	}
	for name, audit := range ociSubArches {
		cases = append(cases, struct {
			c    call
			want uint32
		}{call{what: "sub-arch " + name, arch: audit, nr: nr("read")}, eperm})
	}
	for _, c := range cases {
		if got := verdictOf(t, prog, c.c); got != c.want {
			t.Errorf("%s: %s (%#x), want %s (%#x)", c.c.what, verdictName(got), got, verdictName(c.want), c.want)
		}
	}
	// A default of ENOSYS (Podman's) has no stub.
	p.DefaultErrnoRet = new(uint)
	*p.DefaultErrnoRet = uint(unix.ENOSYS)
	prog, err = p.Compile(Container{})
	if err != nil {
		t.Fatal(err)
	}
	if got := verdictOf(t, prog, native("one above the highest", nr("statx")+1)); got != enosys {
		t.Errorf("above the highest with ENOSYS the default: %s", verdictName(got))
	}
	if got := verdictOf(t, prog, native("fsync", nr("fsync"))); got != eperm {
		t.Errorf("fsync refused with EPERM, no longer the default: %s", verdictName(got))
	}
}

func TestCompileRefusesWhatItCannotCompile(t *testing.T) {
	for _, c := range []struct{ profile, want string }{
		{`{"defaultAction": "SCMP_ACT_NOTIFY"}`, "SCMP_ACT_NOTIFY"},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_WHATEVER"}]}]}`, "SCMP_CMP_WHATEVER"},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "index 6"},
		{`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}}]}`, "five"},
	} {
		var p Profile
		if err := json.Unmarshal([]byte(c.profile), &p); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Compile(Container{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %s", c.profile, err, c.want)
		}
	}
}

func TestMissingProfilesFailLoudly(t *testing.T) {
	t.Setenv("NP_TEST_PROFILES", filepath.Join(t.TempDir(), "none"))
	_, err := Filters["oci:docker-current"]()
	if err == nil || !strings.Contains(err.Error(), "docker-current.json") {
		t.Fatalf("got %v, want an error naming the missing file", err)
	}
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

// probeOCISyscalls prints what the calls the engines' profiles differ on
// return. Each would succeed, or fail harmlessly, on an unfiltered host.
func probeOCISyscalls() {
	fmt.Println("unshare(CLONE_FS):", errText(unix.Unshare(unix.CLONE_FS)))
	fmt.Println("unshare(CLONE_NEWUSER):", errText(unix.Unshare(unix.CLONE_NEWUSER)))
	// A zero-sized clone_args: EINVAL where the call reaches the kernel.
	_, _, errno := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	fmt.Println("clone3:", errText(errno))
	// Read a byte of our own memory.
	src, dst := []byte{42}, []byte{0}
	local := []unix.Iovec{{Base: &dst[0], Len: 1}}
	remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&src[0])), Len: 1}}
	_, err := unix.ProcessVMReadv(os.Getpid(), local, remote, 0)
	fmt.Println("process_vm_readv:", errText(err))
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		fmt.Println("pidfd_open:", errText(err))
		return
	}
	fd, err := unix.PidfdGetfd(pidfd, 0, 0)
	if err == nil {
		unix.Close(fd)
	}
	fmt.Println("pidfd_getfd:", errText(err))
	_, _, errno = unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, 1<<30, 0, 0, 0, 0)
	fmt.Println("ptrace:", errText(errno))
	fmt.Println("setns:", errText(unix.Setns(-1, 0)))
	// fchmodat2 itself (unix.Fchmodat would fall back on ENOSYS), of a
	// path that does not exist.
	path, _ := unix.BytePtrFromString("/nonexistent-np-probe")
	atFDCWD := unix.AT_FDCWD
	_, _, errno = unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(atFDCWD), uintptr(unsafe.Pointer(path)), 0o755, unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	fmt.Println("fchmodat2:", errText(errno))
	_, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	fmt.Println("personality(query):", errText(errno))
	fmt.Println("fork+exec:", errText(exec.Command("/bin/sh", "-c", "exit 0").Run()))
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
