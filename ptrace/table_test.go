package ptrace

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
)

// TestFilterAndDispatcherAgree runs the filter in the BPF interpreter for
// every number and checks it traps exactly what the dispatcher handles
// and refuses exactly what the table refuses.
func TestFilterAndDispatcherAgree(t *testing.T) {
	for _, level := range []notifyLevel{notifyNone, notifyReads, notifyOpens, notifyListings} {
		checkFilter(t, level)
	}
}

func checkFilter(t *testing.T, level notifyLevel) {
	notify := level
	prog, err := buildFilter(level, 0)
	if err != nil {
		t.Fatal(err)
	}
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
	if v := verdict(bpf.Data{Nr: 2, Arch: auditArchCompat}); v != enosys {
		t.Errorf("compat call: %#x, want ENOSYS", v)
	}
	if x32Bit != 0 {
		if v := verdict(bpf.Data{Nr: int32(x32Bit | sysNumbers["openat"]), Arch: auditArch}); v != enosys {
			t.Errorf("x32 call: %#x, want ENOSYS", v)
		}
	}
	if v := verdict(bpf.Data{Nr: 0, Arch: 0x1234}); v != unix.SECCOMP_RET_KILL_PROCESS {
		t.Errorf("unknown arch: %#x, want kill", v)
	}
}

// TestTableRowsAreConsistent: every row is complete for its action.
func TestTableRowsAreConsistent(t *testing.T) {
	if _, err := index(table, sysNumbers); err != nil {
		t.Fatal(err)
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
	if _, err := index(table, map[string]int{"nosuchcall": 1}); err == nil {
		t.Error("index accepted a number without a row")
	}
	rows := append([]sysInfo{}, table...)
	rows = append(rows, sysInfo{name: "newcall", act: actPaths})
	if _, err := index(rows, sysNumbers); err == nil {
		t.Error("index accepted a row without a number")
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
	const probe = 0x7f0012345678
	prog, err := buildFilter(notifyListings, probe)
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(ptr uint64) uint32 {
		d := bpf.Data{Nr: int32(sysNumbers["mkdirat"]), Arch: auditArch}
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
