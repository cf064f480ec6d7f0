package ptrace

import (
	"testing"

	"github.com/np-portable/np/ptrace/systable"
)

// TestNotificationsAnswerReadOnlyCalls: with the filter, stat, access and
// readlink go to the notification server, not to ptrace stops; without
// notifications they are stops again.
//
//np:kernel-set smoke
func TestNotificationsAnswerReadOnlyCalls(t *testing.T) {
	f := getFixture(t)
	script := "for i in 1 2 3 4 5 6 7 8 9 10; do stat /nix/hello /nix/link >/dev/null; readlink /nix/link >/dev/null; done"
	expect(t, traced(t, f.nix, false, "/bin/busybox", "sh", "-c", script), "")
	with := lastRunStats
	noNotifyForTests = true
	expect(t, traced(t, f.nix, false, "/bin/busybox", "sh", "-c", script), "")
	noNotifyForTests = false
	without := lastRunStats
	if hostCallsHere().notify() == systable.NotifyNone {
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
