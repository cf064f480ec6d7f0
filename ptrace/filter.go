package ptrace

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// buildFilter derives the seccomp filter from the syscall table:
//
//   - other architectures are killed, except the compat (i386) entry point
//     and x32 numbers, which get ENOSYS: the tracer only knows native calls;
//   - numbers above the architecture's maxKnownSyscall and the table's refused calls: ENOSYS;
//   - prctl(PR_SET_DUMPABLE, 0): traced (the tracer makes it a no-op);
//   - the table's other calls: traced (SECCOMP_RET_TRACE);
//   - everything else: allowed, at no cost to the tracer.
//
// The numbers are searched with a binary tree of comparisons.
//
// With notify, the calls the notification server can answer return
// SECCOMP_RET_USER_NOTIF instead of SECCOMP_RET_TRACE; opens only at
// notifyOpens (the server can install fds), and only those without
// O_PATH; listings only at notifyListings (the server needs the caller's
// own open directory, pidfd_getfd).
type notifyLevel uint8

const (
	notifyNone     notifyLevel = iota
	notifyReads                // stat, access, readlink
	notifyOpens                // and opens, removals, the redone calls
	notifyListings             // and listings of / (getdents64)
)

func (l notifyLevel) String() string {
	return [...]string{"none", "reads", "opens", "listings"}[l]
}

// probe, when not 0, is the address of the stub's probe path: its
// mkdirat of that string always stops the tracer (it learns the stop
// order and takes the listener from it), though mkdirat is otherwise the
// notification server's.
func buildFilter(level notifyLevel, probe uint64) ([]unix.SockFilter, error) {
	return buildFilterFor(nativeArch(), byNr(), level, probe)
}

// buildFilterFor builds the filter of architecture a, whose numbers index
// the table as byNr: the native one for use, either for the tests.
func buildFilterFor(a *archTable, byNr map[int]*sysInfo, level notifyLevel, probe uint64) ([]unix.SockFilter, error) {
	verdict := map[int]string{}
	var nrs []int
	for _, nr := range tracedNumbers(byNr) {
		verdict[nr] = "trace"
		if byNr[nr].act == actPrctl {
			verdict[nr] = "prctl"
		}
		switch k := byNr[nr].notify; {
		case k == notifyOpen && level >= notifyOpens:
			verdict[nr] = fmt.Sprintf("open%d", nr)
		case k == notifyGetdents && level >= notifyListings:
			verdict[nr] = "notify"
		case k.needsOpens() && k != notifyGetdents && level >= notifyOpens:
			verdict[nr] = "notify"
		case k != viaPtrace && !k.needsOpens() && level >= notifyReads:
			verdict[nr] = "notify"
		}
		if byNr[nr].nonNull > 0 {
			verdict[nr] = fmt.Sprintf("nonnull%d", nr)
		}
		nrs = append(nrs, nr)
	}
	for _, nr := range refusedNumbers(byNr) {
		verdict[nr] = "enosys"
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)

	var p bpf.Program
	p.LoadArch()
	p.JumpIf(a.auditArch, "native")
	p.JumpIf(a.auditArchCompat, "enosys")
	p.Return(unix.SECCOMP_RET_KILL_PROCESS)
	p.Label("native")
	p.LoadNr()
	if a.x32Bit != 0 {
		p.JumpIfAnyBit(a.x32Bit, "enosys")
	}
	p.JumpIfAbove(uint32(a.maxKnownSyscall), "enosys")
	if probe != 0 {
		p.JumpIfNot(uint32(a.numbers["mkdirat"]), "tree")
		p.LoadArgLow(1)
		p.JumpIfNot(uint32(probe), "renr")
		p.LoadArgHigh(1)
		p.JumpIf(uint32(probe>>32), "trace")
		p.Label("renr")
		p.LoadNr()
		p.Label("tree")
	}
	n := 0
	var tree func(nrs []int)
	tree = func(nrs []int) {
		if len(nrs) <= 4 {
			for _, nr := range nrs {
				p.JumpIf(uint32(nr), verdict[nr])
			}
			p.Jump("allow")
			return
		}
		mid := len(nrs) / 2
		n++
		right := fmt.Sprintf("ge%d", n)
		p.JumpIfAtLeast(uint32(nrs[mid]), right)
		tree(nrs[:mid])
		p.Label(right)
		tree(nrs[mid:])
	}
	tree(nrs)
	for _, nr := range nrs {
		if v := verdict[nr]; v == fmt.Sprintf("open%d", nr) {
			p.Label(v)
			p.LoadArgLow(int(byNr[nr].flags))
			p.JumpIfAnyBit(openOnPtrace, "trace")
			p.Jump("notify")
		}
		if a := byNr[nr].nonNull; a > 0 {
			p.Label(verdict[nr])
			p.LoadArgLow(int(a - 1))
			p.JumpIfNot(0, "trace")
			p.LoadArgHigh(int(a - 1))
			p.JumpIfNot(0, "trace")
			p.Jump("allow")
		}
	}
	p.Label("prctl")
	p.LoadArgLow(0)
	p.JumpIfNot(unix.PR_SET_DUMPABLE, "allow")
	p.LoadArgLow(1)
	p.JumpIf(0, "trace")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("trace")
	p.Return(unix.SECCOMP_RET_TRACE)
	p.Label("notify")
	p.Return(unix.SECCOMP_RET_USER_NOTIF)
	p.Label("enosys")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	return p.Assemble()
}
