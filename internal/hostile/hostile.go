// Package hostile recreates, for tests, hosts where np's namespace sandbox
// cannot work, so the fallback paths and their messages can be checked on
// an ordinary machine.
package hostile

import (
	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// nsFlags are the clone/unshare flags that create namespaces; Docker's
// default seccomp profile refuses clone with any of them.
const nsFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// DenyUserNamespacesAndExec installs a seccomp filter shaped like Docker's
// default profile for an unprivileged container, then execs argv[0] (a
// path; argv is passed as is) with env. The program and everything it
// starts then see:
//
//   - clone with any CLONE_NEW* flag: EPERM
//   - unshare with any CLONE_NEW* flag: EPERM
//   - clone3: ENOSYS, so libcs and runtimes fall back to clone, whose flags
//     a filter can read (clone3's are in memory it cannot)
//
// Everything else is allowed, including other architectures' system calls.
// It returns only on failure.
func DenyUserNamespacesAndExec(argv, env []string) error {
	return ExecUnderFilters([]string{"no-userns"}, argv, env)
}

// denyNamespacesFilter is the filter of DenyUserNamespacesAndExec.
func denyNamespacesFilter() ([]unix.SockFilter, error) {
	var p bpf.Program
	p.LoadArch()
	p.JumpIfNot(auditArch, "allow")
	p.LoadNr()
	p.JumpIf(unix.SYS_CLONE3, "enosys")
	p.JumpIf(unix.SYS_CLONE, "check-flags")
	p.JumpIf(unix.SYS_UNSHARE, "check-flags")
	p.Return(unix.SECCOMP_RET_ALLOW)

	// clone's and unshare's flags are both argument 0 on amd64 and arm64.
	p.Label("check-flags")
	p.LoadArgLow(0)
	p.JumpIfAnyBit(nsFlags, "eperm")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("eperm")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	p.Label("enosys")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	return p.Assemble()
}
