package systable

import (
	"fmt"
	"runtime"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// Filter derives the seccomp filter from the syscall table:
//
//   - other architectures are killed, except the compat (i386) entry point
//     and x32 numbers, which get ENOSYS: the tracer only knows native calls;
//   - numbers above the architecture's maxKnownSyscall and the Table's refused calls: ENOSYS;
//   - prctl(PR_SET_DUMPABLE, 0): traced (the tracer makes it a no-op);
//   - the Table's other calls: traced (SECCOMP_RET_TRACE);
//   - everything else: allowed, at no cost to the tracer.
//
// The numbers are searched with a binary tree of comparisons.
//
// With notify, the calls the notification server can answer return
// SECCOMP_RET_USER_NOTIF instead of SECCOMP_RET_TRACE; opens only at
// NotifyOpens (the server can install fds), and only those without
// O_PATH; listings only at NotifyListings (the server needs the caller's
// own open directory, pidfd_getfd).
type NotifyLevel uint8

const (
	NotifyNone     NotifyLevel = iota
	NotifyReads                // stat, access, readlink
	NotifyOpens                // and opens, removals, the redone calls
	NotifyListings             // and listings of / (getdents64)
)

func (l NotifyLevel) String() string {
	return [...]string{"none", "reads", "opens", "listings"}[l]
}

// probe: the forked child's probe call, a mkdirat carrying ProbeMark in
// its unused sixth argument, always stops the tracer (it learns the stop
// order and takes the listener from it), though mkdirat is otherwise the
// notification server's.
//
// The filters np uses (probe with notifications, none without) are built
// when np is (filter_prebuilt.go): building one here cost about 0.1 ms of
// every run. Callers must not change the program.
func Filter(level NotifyLevel, probe bool) ([]unix.SockFilter, error) {
	if prog := prebuilt(level, probe); prog != nil {
		return prog, nil
	}
	return filterFor(Native(), ByNr(), level, probe)
}

// ProbeMark marks the probe call (see Filter). Being a constant, not the
// address of the call's path as it was, it lets the filter be built
// before np runs. A program passing it to mkdirat only makes that call a
// ptrace stop, which answers it the same.
const ProbeMark = 0x6e702d70726f6265 // "np-probe"

// prebuilt is the filter built with np for this architecture, or nil.
func prebuilt(level NotifyLevel, probe bool) []unix.SockFilter {
	if probe != (level > NotifyNone) || level > NotifyListings {
		return nil
	}
	switch runtime.GOARCH {
	case "amd64":
		return prebuiltX86_64[level]
	case "arm64":
		return prebuiltAArch64[level]
	}
	return nil
}

// filterFor builds the filter of architecture a, whose numbers index
// the table as byNr: the native one for use, either for the tests.
func filterFor(a *Arch, byNr map[int]*Info, level NotifyLevel, probe bool) ([]unix.SockFilter, error) {
	verdict := map[int]string{}
	var nrs []int
	for _, nr := range tracedNumbers(byNr) {
		verdict[nr] = "trace"
		if byNr[nr].Act == ActPrctl {
			verdict[nr] = "prctl"
		}
		switch k := byNr[nr].Notify; {
		case k == NotifyOpen && level >= NotifyOpens:
			verdict[nr] = fmt.Sprintf("open%d", nr)
		case k == NotifyGetdents && level >= NotifyListings:
			verdict[nr] = "notify"
		case k.needsOpens() && k != NotifyGetdents && level >= NotifyOpens:
			verdict[nr] = "notify"
		case k != ViaPtrace && !k.needsOpens() && level >= NotifyReads:
			verdict[nr] = "notify"
		}
		if byNr[nr].NonNull > 0 {
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
	p.JumpIf(a.AuditArch, "native")
	p.JumpIf(a.AuditArchCompat, "enosys")
	p.Return(unix.SECCOMP_RET_KILL_PROCESS)
	p.Label("native")
	p.LoadNr()
	if a.X32Bit != 0 {
		p.JumpIfAnyBit(a.X32Bit, "enosys")
	}
	p.JumpIfAbove(uint32(a.MaxKnownSyscall), "enosys")
	if probe {
		p.JumpIfNot(uint32(a.Numbers["mkdirat"]), "tree")
		p.LoadArgLow(5)
		p.JumpIfNot(uint32(ProbeMark&0xffffffff), "renr")
		p.LoadArgHigh(5)
		p.JumpIf(uint32(ProbeMark>>32), "trace")
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
			p.LoadArgLow(int(byNr[nr].Flags))
			p.JumpIfAnyBit(openOnPtrace, "trace")
			p.Jump("notify")
		}
		if a := byNr[nr].NonNull; a > 0 {
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
