package systable

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// arches are both architectures' Table data: every check of the Table
// and the filter runs for each, whatever GOARCH the test is built for
// (the arm64 Table is plain data on x86_64).
var arches = []*Arch{X86_64(), AArch64()}

// TestFilterAndDispatcherAgree runs the filter in the BPF interpreter for
// every number and checks it traps exactly what the dispatcher handles
// and refuses exactly what the Table refuses, for each architecture.
func TestFilterAndDispatcherAgree(t *testing.T) {
	for _, a := range arches {
		t.Run(a.Name, func(t *testing.T) {
			byNr, err := a.index(Table())
			if err != nil {
				t.Fatal(err)
			}
			for _, level := range []NotifyLevel{NotifyNone, NotifyReads, NotifyOpens, NotifyListings} {
				checkFilter(t, a, byNr, level)
			}
		})
	}
}

// TestNativeTable: the Table np runs with is this architecture's.
func TestNativeTable(t *testing.T) {
	want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if Native().Name != want {
		t.Fatalf("the native Table is %s on GOARCH %s", Native().Name, runtime.GOARCH)
	}
	// The numbers agree with the kernel headers' (x/sys/unix) for the
	// calls every architecture has.
	for name, nr := range map[string]int{
		"openat": unix.SYS_OPENAT, "execve": unix.SYS_EXECVE, "getdents64": unix.SYS_GETDENTS64,
		"mkdirat": unix.SYS_MKDIRAT, "statx": unix.SYS_STATX, "getcwd": unix.SYS_GETCWD,
		"faccessat": unix.SYS_FACCESSAT, "readlinkat": unix.SYS_READLINKAT, "connect": unix.SYS_CONNECT,
	} {
		if Numbers()[name] != nr {
			t.Errorf("%s: Table %d, unix.SYS_ %d", name, Numbers()[name], nr)
		}
	}
}

// TestAArch64HasOnlyAtCalls: arm64 has no open, stat, access, readlink,
// rename, mkdir, unlink, symlink or link: every row without a number
// there has an *at form that has one, so no path call goes untranslated.
func TestAArch64HasOnlyAtCalls(t *testing.T) {
	at := map[string]string{
		"open": "openat", "creat": "openat", "stat": "newfstatat", "lstat": "newfstatat",
		"access": "faccessat", "readlink": "readlinkat", "unlink": "unlinkat", "rmdir": "unlinkat",
		"mkdir": "mkdirat", "mknod": "mknodat", "rename": "renameat", "link": "linkat",
		"symlink": "symlinkat", "chmod": "fchmodat", "chown": "fchownat", "lchown": "fchownat",
		"utime": "utimensat", "utimes": "utimensat", "futimesat": "utimensat",
	}
	for name := range AArch64().Absent {
		if name == "uselib" {
			continue // a.Out libraries: no replacement, nothing to translate
		}
		if _, ok := AArch64().Numbers[at[name]]; !ok {
			t.Errorf("%s is absent on aarch64 and its replacement %q has no number", name, at[name])
		}
	}
	if len(X86_64().Absent) != 0 {
		t.Errorf("x86_64 rows without a number: %v", X86_64().Absent)
	}
}

func checkFilter(t *testing.T, a *Arch, byNr map[int]*Info, level NotifyLevel) {
	notify := level
	prog, err := filterFor(a, byNr, level, false)
	if err != nil {
		t.Fatal(err)
	}
	auditArch, auditArchCompat, maxKnownSyscall, x32Bit, sysNumbers := a.AuditArch, a.AuditArchCompat, a.MaxKnownSyscall, a.X32Bit, a.Numbers
	verdict := func(d bpf.Data) uint32 {
		v, err := bpf.Run(prog, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	for nr := 0; nr < 1024; nr++ {
		d := bpf.Data{Nr: int32(nr), Arch: auditArch}
		if info := byNr[nr]; info != nil && info.Act == ActPrctl {
			d.Args[0], d.Args[1] = unix.PR_SET_DUMPABLE, 0
		}
		if info := byNr[nr]; info != nil && info.NonNull > 0 {
			// Trapped only with the argument set (high half alone too).
			if v := verdict(d); v != unix.SECCOMP_RET_ALLOW {
				t.Errorf("syscall %d (%s) with a NULL argument: %#x, want allow", nr, info.Name, v)
			}
			d.Args[info.NonNull-1] = 1 << 40
		}
		got := verdict(d)
		info := byNr[nr]
		var want uint32
		switch {
		case nr > maxKnownSyscall:
			want = enosys
		case info == nil:
			want = unix.SECCOMP_RET_ALLOW
		case info.Act == ActRefuse:
			want = enosys
		case info.Notify == NotifyOpen && level >= NotifyOpens:
			want = unix.SECCOMP_RET_USER_NOTIF
			// ...creating ones too, unless O_PATH (ADDFD refuses those).
			for f, v := range map[uint64]uint32{
				unix.O_CREAT | unix.O_RDWR:    unix.SECCOMP_RET_USER_NOTIF,
				unix.O_TMPFILE | unix.O_RDWR:  unix.SECCOMP_RET_USER_NOTIF,
				unix.O_PATH:                   unix.SECCOMP_RET_TRACE,
				unix.O_PATH | unix.O_NOFOLLOW: unix.SECCOMP_RET_TRACE,
			} {
				d2 := d
				d2.Args[info.Flags] = f
				if got := verdict(d2); got != v {
					t.Errorf("level %d: %s with flags %#x: %#x, want %#x", level, info.Name, f, got, v)
				}
			}
		case info.Notify == NotifyGetdents && level >= NotifyListings:
			want = unix.SECCOMP_RET_USER_NOTIF
		case info.Notify.needsOpens() && info.Notify != NotifyGetdents && level >= NotifyOpens: // the redo calls
			want = unix.SECCOMP_RET_USER_NOTIF
		case info.Notify != ViaPtrace && !info.Notify.needsOpens() && level >= NotifyReads:
			want = unix.SECCOMP_RET_USER_NOTIF
		default:
			want = unix.SECCOMP_RET_TRACE
		}
		if got != want {
			name := "?"
			if info != nil {
				name = info.Name
			}
			t.Errorf("level %d: syscall %d (%s): filter says %#x, Table says %#x", notify, nr, name, got, want)
		}
	}
	// prctl is trapped only for PR_SET_DUMPABLE 0.
	prctl := int32(sysNumbers["prctl"])
	if v := verdict(bpf.Data{Nr: prctl, Arch: auditArch, Args: [6]uint64{unix.PR_SET_NAME}}); v != unix.SECCOMP_RET_ALLOW {
		t.Errorf("prctl(PR_SET_NAME): %#x", v)
	}
	if v := verdict(bpf.Data{Nr: prctl, Arch: auditArch, Args: [6]uint64{unix.PR_SET_DUMPABLE, 1}}); v != unix.SECCOMP_RET_ALLOW {
		t.Errorf("prctl(PR_SET_DUMPABLE, 1): %#x", v)
	}
	// Compat calls (i386, AArch32) get ENOSYS, whatever their number:
	// the tracer would read their registers as native ones.
	for _, nr := range []int32{0, 2, 5, 11, 322, 1000} {
		if v := verdict(bpf.Data{Nr: nr, Arch: auditArchCompat}); v != enosys {
			t.Errorf("compat call %d: %#x, want ENOSYS", nr, v)
		}
	}
	if x32Bit != 0 {
		if v := verdict(bpf.Data{Nr: int32(x32Bit | uint32(sysNumbers["openat"])), Arch: auditArch}); v != enosys {
			t.Errorf("x32 call: %#x, want ENOSYS", v)
		}
	}
	if v := verdict(bpf.Data{Nr: 0, Arch: 0x1234}); v != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("unknown arch: %#x, want kill", v)
	}
}

// TestTableRowsAreConsistent: every row is complete for its Action.
func TestTableRowsAreConsistent(t *testing.T) {
	for _, a := range arches {
		if _, err := a.index(Table()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range Table() {
		switch r.Act {
		case ActPaths, ActReadlink, ActExecve, ActExecveat:
			if len(r.Paths) == 0 {
				t.Errorf("%s: no path arguments", r.Name)
			}
		}
		for _, p := range r.Paths {
			needsFlags := p.Follow == FollowUnlessAtNF || p.Follow == FollowIfAtFollow || p.Follow == FollowOpenFlags ||
				p.Follow == FollowOpenHow || p.Follow == FollowUnlessInDF || p.Follow == FollowUnlessFanDF
			if needsFlags && r.Flags < 0 {
				t.Errorf("%s: Follow rule needs a flags register", r.Name)
			}
			if p.Arg < 0 || p.Arg > 5 || p.Dirfd > 5 {
				t.Errorf("%s: bad registers %+v", r.Name, p)
			}
		}
	}
	// The index refuses a number without a row and a row without a number.
	bad := *Native()
	bad.Numbers = map[string]int{"nosuchcall": 1}
	if _, err := bad.index(Table()); err == nil {
		t.Error("index accepted a number without a row")
	}
	rows := append([]Info{}, Table()...)
	rows = append(rows, Info{Name: "newcall", Act: ActPaths})
	if _, err := Native().index(rows); err == nil {
		t.Error("index accepted a row without a number")
	}
	bad = *AArch64()
	bad.Numbers = map[string]int{}
	for k, v := range AArch64().Numbers {
		bad.Numbers[k] = v
	}
	bad.Numbers["open"] = 1024
	if _, err := bad.index(Table()); err == nil {
		t.Error("index accepted a row both numbered and absent")
	}
}

// TestProbeCallAlwaysStops: the child's probe (a mkdirat marked with
// ProbeMark) is traced though mkdirat goes to the notification server:
// the tracer takes the server's listener at that stop.
func TestProbeCallAlwaysStops(t *testing.T) {
	for _, a := range arches {
		t.Run(a.Name, func(t *testing.T) { checkProbeCall(t, a) })
	}
}

func checkProbeCall(t *testing.T, a *Arch) {
	const probe = ProbeMark
	byNr, err := a.index(Table())
	if err != nil {
		t.Fatal(err)
	}
	prog, err := filterFor(a, byNr, NotifyListings, true)
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(mark uint64) uint32 {
		d := bpf.Data{Nr: int32(a.Numbers["mkdirat"]), Arch: a.AuditArch}
		d.Args[0], d.Args[1], d.Args[5] = atFDCWD, 0x7f0012345678, mark
		v, err := bpf.Run(prog, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verdict(probe); v != unix.SECCOMP_RET_TRACE {
		t.Errorf("the probe's mkdirat: %#x, want trace", v)
	}
	for _, mark := range []uint64{0, probe + 1, probe &^ 0xffffffff, probe & 0xffffffff} {
		if v := verdict(mark); v != unix.SECCOMP_RET_USER_NOTIF {
			t.Errorf("mkdirat marked %#x: %#x, want the notification server", mark, v)
		}
	}
}

// atFDCWD is AT_FDCWD as a register holds it.
var atFDCWD = func() uint64 { fd := int64(unix.AT_FDCWD); return uint64(fd) }()
