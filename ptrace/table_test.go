package ptrace

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// arches are both architectures' table data: every check of the table
// and the filter runs for each, whatever GOARCH the test is built for
// (the arm64 table is plain data on x86_64).
var arches = []*archTable{archX86_64(), archAArch64()}

// TestFilterAndDispatcherAgree runs the filter in the BPF interpreter for
// every number and checks it traps exactly what the dispatcher handles
// and refuses exactly what the table refuses, for each architecture.
func TestFilterAndDispatcherAgree(t *testing.T) {
	for _, a := range arches {
		t.Run(a.name, func(t *testing.T) {
			byNr, err := a.index(table)
			if err != nil {
				t.Fatal(err)
			}
			for _, level := range []notifyLevel{notifyNone, notifyReads, notifyOpens, notifyListings} {
				checkFilter(t, a, byNr, level)
			}
		})
	}
}

// TestNativeTable: the table np runs with is this architecture's.
func TestNativeTable(t *testing.T) {
	want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if nativeArch().name != want {
		t.Fatalf("the native table is %s on GOARCH %s", nativeArch().name, runtime.GOARCH)
	}
	// The numbers agree with the kernel headers' (x/sys/unix) for the
	// calls every architecture has.
	for name, nr := range map[string]int{
		"openat": unix.SYS_OPENAT, "execve": unix.SYS_EXECVE, "getdents64": unix.SYS_GETDENTS64,
		"mkdirat": unix.SYS_MKDIRAT, "statx": unix.SYS_STATX, "getcwd": unix.SYS_GETCWD,
		"faccessat": unix.SYS_FACCESSAT, "readlinkat": unix.SYS_READLINKAT, "connect": unix.SYS_CONNECT,
	} {
		if sysNumbers()[name] != nr {
			t.Errorf("%s: table %d, unix.SYS_ %d", name, sysNumbers()[name], nr)
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
	for name := range archAArch64().absent {
		if name == "uselib" {
			continue // a.out libraries: no replacement, nothing to translate
		}
		if _, ok := archAArch64().numbers[at[name]]; !ok {
			t.Errorf("%s is absent on aarch64 and its replacement %q has no number", name, at[name])
		}
	}
	if len(archX86_64().absent) != 0 {
		t.Errorf("x86_64 rows without a number: %v", archX86_64().absent)
	}
}

func checkFilter(t *testing.T, a *archTable, byNr map[int]*sysInfo, level notifyLevel) {
	notify := level
	prog, err := buildFilterFor(a, byNr, level, 0)
	if err != nil {
		t.Fatal(err)
	}
	auditArch, auditArchCompat, maxKnownSyscall, x32Bit, sysNumbers := a.auditArch, a.auditArchCompat, a.maxKnownSyscall, a.x32Bit, a.numbers
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
		if info := byNr[nr]; info != nil && info.act == actPrctl {
			d.Args[0], d.Args[1] = unix.PR_SET_DUMPABLE, 0
		}
		if info := byNr[nr]; info != nil && info.nonNull > 0 {
			// Trapped only with the argument set (high half alone too).
			if v := verdict(d); v != unix.SECCOMP_RET_ALLOW {
				t.Errorf("syscall %d (%s) with a NULL argument: %#x, want allow", nr, info.name, v)
			}
			d.Args[info.nonNull-1] = 1 << 40
		}
		got := verdict(d)
		info := byNr[nr]
		var want uint32
		switch {
		case nr > maxKnownSyscall:
			want = enosys
		case info == nil:
			want = unix.SECCOMP_RET_ALLOW
		case info.act == actRefuse:
			want = enosys
		case info.notify == notifyOpen && level >= notifyOpens:
			want = unix.SECCOMP_RET_USER_NOTIF
			// ...creating ones too, unless O_PATH (ADDFD refuses those).
			for f, v := range map[uint64]uint32{
				unix.O_CREAT | unix.O_RDWR:    unix.SECCOMP_RET_USER_NOTIF,
				unix.O_TMPFILE | unix.O_RDWR:  unix.SECCOMP_RET_USER_NOTIF,
				unix.O_PATH:                   unix.SECCOMP_RET_TRACE,
				unix.O_PATH | unix.O_NOFOLLOW: unix.SECCOMP_RET_TRACE,
			} {
				d2 := d
				d2.Args[info.flags] = f
				if got := verdict(d2); got != v {
					t.Errorf("level %d: %s with flags %#x: %#x, want %#x", level, info.name, f, got, v)
				}
			}
		case info.notify == notifyGetdents && level >= notifyListings:
			want = unix.SECCOMP_RET_USER_NOTIF
		case info.notify.needsOpens() && info.notify != notifyGetdents && level >= notifyOpens: // the redo calls
			want = unix.SECCOMP_RET_USER_NOTIF
		case info.notify != viaPtrace && !info.notify.needsOpens() && level >= notifyReads:
			want = unix.SECCOMP_RET_USER_NOTIF
		default:
			want = unix.SECCOMP_RET_TRACE
		}
		if got != want {
			name := "?"
			if info != nil {
				name = info.name
			}
			t.Errorf("level %d: syscall %d (%s): filter says %#x, table says %#x", notify, nr, name, got, want)
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

// TestTableRowsAreConsistent: every row is complete for its action.
func TestTableRowsAreConsistent(t *testing.T) {
	for _, a := range arches {
		if _, err := a.index(table); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range table {
		switch r.act {
		case actPaths, actReadlink, actExecve, actExecveat:
			if len(r.paths) == 0 {
				t.Errorf("%s: no path arguments", r.name)
			}
		}
		for _, p := range r.paths {
			needsFlags := p.follow == followUnlessAtNF || p.follow == followIfAtFollow || p.follow == followOpenFlags ||
				p.follow == followOpenHow || p.follow == followUnlessInDF || p.follow == followUnlessFanDF
			if needsFlags && r.flags < 0 {
				t.Errorf("%s: follow rule needs a flags register", r.name)
			}
			if p.arg < 0 || p.arg > 5 || p.dirfd > 5 {
				t.Errorf("%s: bad registers %+v", r.name, p)
			}
		}
	}
	// The index refuses a number without a row and a row without a number.
	bad := *nativeArch()
	bad.numbers = map[string]int{"nosuchcall": 1}
	if _, err := bad.index(table); err == nil {
		t.Error("index accepted a number without a row")
	}
	rows := append([]sysInfo{}, table...)
	rows = append(rows, sysInfo{name: "newcall", act: actPaths})
	if _, err := nativeArch().index(rows); err == nil {
		t.Error("index accepted a row without a number")
	}
	bad = *archAArch64()
	bad.numbers = map[string]int{}
	for k, v := range archAArch64().numbers {
		bad.numbers[k] = v
	}
	bad.numbers["open"] = 1024
	if _, err := bad.index(table); err == nil {
		t.Error("index accepted a row both numbered and absent")
	}
}

// TestNotificationsAnswerReadOnlyCalls: with the filter, stat, access and
// readlink go to the notification server, not to ptrace stops; without
// notifications they are stops again.
func TestNotificationsAnswerReadOnlyCalls(t *testing.T) {
	f := getFixture(t)
	script := "for i in 1 2 3 4 5 6 7 8 9 10; do stat /nix/hello /nix/link >/dev/null; readlink /nix/link >/dev/null; done"
	expect(t, traced(t, f.nix, false, "/bin/busybox", "sh", "-c", script), "")
	with := lastRunStats
	noNotifyForTests = true
	expect(t, traced(t, f.nix, false, "/bin/busybox", "sh", "-c", script), "")
	noNotifyForTests = false
	without := lastRunStats
	if hostCallsHere().notify() == notifyNone {
		// This host (or NP_PTRACE_TEST_MEM=peek) allows none: every call stops.
		if with.notifications != 0 || without.notifications != 0 {
			t.Errorf("notifications on a host without them: with %+v, without %+v", with, without)
		}
		return
	}
	if with.notifications < 30 || without.notifications != 0 || without.stops < with.stops+30 {
		t.Errorf("with notifications: %+v; without: %+v", with, without)
	}
}

// TestProbeCallAlwaysStops: the stub's probe (mkdirat of its own "/") is
// traced though mkdirat goes to the notification server: the tracer takes
// the server's listener at that stop.
func TestProbeCallAlwaysStops(t *testing.T) {
	for _, a := range arches {
		t.Run(a.name, func(t *testing.T) { checkProbeCall(t, a) })
	}
}

func checkProbeCall(t *testing.T, a *archTable) {
	const probe = 0x7f0012345678
	byNr, err := a.index(table)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := buildFilterFor(a, byNr, notifyListings, probe)
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(ptr uint64) uint32 {
		d := bpf.Data{Nr: int32(a.numbers["mkdirat"]), Arch: a.auditArch}
		d.Args[0], d.Args[1] = atFDCWD, ptr
		v, err := bpf.Run(prog, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verdict(probe); v != unix.SECCOMP_RET_TRACE {
		t.Errorf("the probe's mkdirat: %#x, want trace", v)
	}
	for _, ptr := range []uint64{probe + 1, probe &^ 0xffffffff, probe & 0xffffffff} {
		if v := verdict(ptr); v != unix.SECCOMP_RET_USER_NOTIF {
			t.Errorf("mkdirat of %#x: %#x, want the notification server", ptr, v)
		}
	}
}
