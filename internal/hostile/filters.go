package hostile

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// Filters names the seccomp filters a test can put between itself and np,
// each recreating one kind of hostile host. They stack: ExecUnderFilters
// installs several in the order given. oci.go adds the container engines'
// own default profiles, compiled from their JSON: "oci:docker-current",
// "oci:docker-20.10", "oci:podman", each also with "+ptrace".
var Filters = map[string]func() ([]unix.SockFilter, error){
	// Docker's default profile for an unprivileged container: no new
	// namespaces (see DenyUserNamespacesAndExec).
	"no-userns": denyNamespacesFilter,
	// ptrace refused, as Docker's default profile did on kernels before 4.8
	// (and a site policy may still do): the tracer cannot work.
	"no-ptrace": denyPtraceFilter,
	// A kernel that offers nothing newer than Linux 3.10, like CentOS/RHEL
	// 7's: statx, getrandom, seccomp(2), execveat, clone3, openat2,
	// faccessat2 ... return ENOSYS, so programs must fall back as they do
	// there.
	"linux-3.10": linux310Filter,
	// What Docker 20.10's default profile refuses (measured in a real
	// container) beyond namespaces, one call family each: unshare with any
	// flags (CLONE_FS included), process_vm_readv/writev and pidfd_getfd
	// (both allowed only with CAP_SYS_PTRACE), all with EPERM.
	"no-unshare":     refuseFilter(unix.EPERM, unix.SYS_UNSHARE),
	"no-process-vm":  refuseFilter(unix.EPERM, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV),
	"no-pidfd-getfd": refuseFilter(unix.EPERM, unix.SYS_PIDFD_GETFD),
	// A profile older than close_range (Linux 5.9) refuses it with
	// EPERM: the ns init then closes np's fds from /proc/self/fd.
	"no-close-range": refuseFilter(unix.EPERM, unix.SYS_CLOSE_RANGE),
	// A kernel whose entropy pool is not initialised yet (an old kernel in
	// a VM without a hardware RNG, minutes after boot): getrandom with
	// GRND_NONBLOCK says EAGAIN; one that would block fails with EIO
	// instead, so a program that waits for the pool fails loudly.
	"no-entropy": noEntropyFilter,
}

// refuseFilter refuses the native calls nrs with errno, whatever their
// arguments.
func refuseFilter(errno unix.Errno, nrs ...uint32) func() ([]unix.SockFilter, error) {
	return func() ([]unix.SockFilter, error) {
		var p bpf.Program
		p.LoadArch()
		p.JumpIfNot(auditArch, "allow")
		p.LoadNr()
		for _, nr := range nrs {
			p.JumpIf(nr, "refuse")
		}
		p.Label("allow")
		p.Return(unix.SECCOMP_RET_ALLOW)
		p.Label("refuse")
		p.Return(unix.SECCOMP_RET_ERRNO | uint32(errno))
		return p.Assemble()
	}
}

// ExecUnderFilters installs the named filters (keys of Filters), then execs
// argv[0] (a path; argv is passed as is) with env. It returns only on
// failure. The filters are installed with prctl(PR_SET_SECCOMP), which every
// kernel with filters has, so a "linux-3.10" filter (whose seccomp(2) is
// ENOSYS) may come before others.
func ExecUnderFilters(names []string, argv, env []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("running under seccomp filters: no program given")
	}
	if len(names) == 0 {
		return fmt.Errorf("running %s under seccomp filters: no filter named", argv[0])
	}
	progs := make([][]unix.SockFilter, len(names))
	for i, name := range names {
		build, ok := Filters[name]
		if !ok {
			return fmt.Errorf("building seccomp filter %q: no such filter (known: %s)", name, knownFilters())
		}
		prog, err := build()
		if err != nil {
			return fmt.Errorf("building seccomp filter %q: %w", name, err)
		}
		progs[i] = prog
	}
	// A filter applies to the thread that installs it (and what it execs):
	// the same thread must install them all and call execve.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, name := range names {
		if name == "linux-3.10" {
			// An old kernel also says it is old: uname's release is
			// what libraries choose their fallbacks by. Without
			// getrandom, OpenSSL (3.6 in np's Nix 2.34, which libgit2
			// initialises for Nix's git fetchers) seeds from /dev/random
			// and /dev/urandom only on a kernel that says it is older
			// than 4.8, and otherwise fails ("entropy source strength
			// too weak"). UNAME26 makes uname say 2.6.<60+minor>.
			if err := setUname26(); err != nil {
				return err
			}
		}
	}
	// Without no_new_privs an unprivileged process may not install a filter.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	for i, prog := range progs {
		if err := installFilterPrctl(prog); err != nil {
			return fmt.Errorf("installing seccomp filter %q: %w", names[i], err)
		}
	}
	err := syscall.Exec(argv[0], argv, env)
	return fmt.Errorf("executing %s: %w", argv[0], err)
}

// uname26 is the personality flag UNAME26 (linux/personality.h).
const uname26 = 0x0020000

// setUname26 adds UNAME26 to the process's personality (0xffffffff asks
// for the current one without changing it); exec keeps it.
func setUname26() error {
	cur, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno == 0 {
		_, _, errno = unix.RawSyscall(unix.SYS_PERSONALITY, cur|uname26, 0, 0)
	}
	if errno != 0 {
		return fmt.Errorf("setting the UNAME26 personality: %w", errno)
	}
	return nil
}

func knownFilters() string {
	var names []string
	for name := range Filters {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// denyPtraceFilter refuses ptrace and the cross-process memory calls a
// tracer needs with EPERM, as Docker's default profile did before Linux 4.8.
func denyPtraceFilter() ([]unix.SockFilter, error) {
	var p bpf.Program
	p.LoadArch()
	p.JumpIfNot(auditArch, "allow")
	p.LoadNr()
	p.JumpIf(unix.SYS_PTRACE, "eperm")
	p.JumpIf(unix.SYS_PROCESS_VM_READV, "eperm")
	p.JumpIf(unix.SYS_PROCESS_VM_WRITEV, "eperm")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("eperm")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	return p.Assemble()
}

// linux310Filter gives ENOSYS for every system call numbered above the
// last one Linux 3.10 had (lastLinux310Syscall, per architecture). Calls of
// other architectures pass: only the native table is emulated.
func linux310Filter() ([]unix.SockFilter, error) {
	var p bpf.Program
	p.LoadArch()
	p.JumpIfNot(auditArch, "allow")
	p.LoadNr()
	// -1 is no system call: it is how a tracer skips one (a real 3.10
	// kernel answers it with ENOSYS itself, which the tracer replaces).
	// Since Linux 4.8 this filter runs after the tracer changed the
	// number, so it must let -1 through to emulate a 3.10 table, not a
	// filter that breaks tracers.
	p.JumpIf(0xffffffff, "allow")
	p.JumpIfAbove(lastLinux310Syscall, "enosys")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("enosys")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	return p.Assemble()
}

// noEntropyFilter answers getrandom as a starved pool would: EAGAIN with
// GRND_NONBLOCK, and EIO where the kernel would block. On kernels with the
// vDSO's getrandom (6.11+) a caller whose pool is ready reads it without a
// system call, which no filter sees: the old kernels' VMs (started starved,
// integration/kernels.sh) are where waiting shows as a hang.
func noEntropyFilter() ([]unix.SockFilter, error) {
	var p bpf.Program
	p.LoadArch()
	p.JumpIfNot(auditArch, "allow")
	p.LoadNr()
	p.JumpIf(unix.SYS_GETRANDOM, "getrandom")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("getrandom")
	p.LoadArgLow(2)
	p.JumpIfAnyBit(unix.GRND_NONBLOCK, "again")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.EIO))
	p.Label("again")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.EAGAIN))
	return p.Assemble()
}
