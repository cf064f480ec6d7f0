package hostile

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

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
