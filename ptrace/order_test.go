package ptrace

import "testing"

// TestStopOrderByProbeStop: the probe call's extra stop, which learns the
// seccomp stop order on kernels without PTRACE_GET_SYSCALL_INFO (before
// 5.3: the old order's 4.4 and RHEL 7.3, RHEL 7.9's backported new one),
// finds the order the run without it found, and the program runs either
// way. Where the request answers (5.3+), the run without the hook needed
// no extra stop.
func TestStopOrderByProbeStop(t *testing.T) {
	f := getFixture(t)
	r := traced(t, f.nix, false, hostBusybox(), "echo", "ok")
	expect(t, r, "ok\n")
	first := lastRunStats
	noSyscallInfoForTests = true
	defer func() { noSyscallInfoForTests = false }()
	r = traced(t, f.nix, false, hostBusybox(), "echo", "ok")
	expect(t, r, "ok\n")
	byStop := lastRunStats
	if !byStop.orderByStop {
		t.Fatalf("with PTRACE_GET_SYSCALL_INFO left out, the order was not learnt from the probe's stop: %+v", byStop)
	}
	if byStop.oldOrder != first.oldOrder {
		t.Errorf("the probe's stop found old order = %v, the first run %v (%+v)", byStop.oldOrder, first.oldOrder, first)
	}
	t.Logf("first run %+v; by the probe's stop %+v", first, byStop)
}
