package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
