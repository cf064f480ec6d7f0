package entropy

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The kernels' answers np meets, and what it says about each: Nix waits
// for a pool that getrandom says is not initialised, and for /dev/random
// where getrandom is missing or refused and the input pool is low
// (3.10.0-1160.el7 under qemu: 2 bits).
func TestWaitNamesWhatNixWaitsFor(t *testing.T) {
	for _, tc := range []struct {
		name      string
		getrandom error
		pollIn    bool
		pollErr   error
		want      string // "" or a part of the cause
	}{
		{"ready pool", nil, false, nil, ""},
		{"pool not initialised", unix.EAGAIN, false, nil, "entropy pool is not initialised"},
		{"no getrandom, input pool full", unix.ENOSYS, true, nil, ""},
		{"no getrandom, input pool low", unix.ENOSYS, false, nil, "input pool holds 2 bits"},
		{"getrandom refused, input pool low", unix.EPERM, false, nil, "getrandom is unavailable here (operation not permitted)"},
		{"no /dev/random", unix.ENOSYS, false, unix.ENOENT, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := kernel{
				getrandom:    func() error { return tc.getrandom },
				randomPollIn: func() (bool, error) { return tc.pollIn, tc.pollErr },
				entropyAvail: func() string { return "2" },
			}
			got := k.wait()
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("wait() = %q, want %q", got, tc.want)
			}
		})
	}
}

// On this machine's kernel the real reads must not block and, on a booted
// host whose pool is initialised, find nothing to wait for.
func TestWaitOnThisHost(t *testing.T) {
	if err := host.getrandom(); err != nil {
		t.Fatalf("getrandom(GRND_NONBLOCK) on this booted host: %v", err)
	}
	if ready, err := host.randomPollIn(); err != nil || !ready {
		t.Fatalf("/dev/random on this booted host: readable %v (%v); entropy_avail %s", ready, err, host.entropyAvail())
	}
	if why := Wait(); why != "" {
		t.Fatalf("Wait() on a booted host: %q", why)
	}
}
