// Package entropy tells, without waiting, whether Nix would wait for the
// kernel's entropy pool before it starts. np itself never reads the pool
// in a way that blocks (its one-time signing key falls back to
// /dev/urandom), but the Nix it runs initialises libsodium, which calls
// getrandom(2) without GRND_NONBLOCK, blocking until the kernel's pool is
// initialised; where getrandom fails (Linux < 3.17, a seccomp profile
// refusing it) libsodium polls /dev/random instead, which blocks until
// the kernel's input pool holds 64 bits (Linux < 5.6) or the pool is
// initialised. On an old kernel in a VM without a hardware RNG either
// lasts minutes after boot, or forever (CentOS 7's kernel under qemu held
// 2 bits): np's first command then seems to hang. np cannot avoid that
// wait; it can say why, once, before it starts Nix.
package entropy

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Fix is what a host's user or admin does about a starved pool.
const Fix = "start rngd (rng-tools) or haveged, or give the VM a virtio-rng device"

// kernel is the part of the kernel Wait reads; a test replaces it.
type kernel struct {
	getrandom    func() error         // getrandom(2) of one byte with GRND_NONBLOCK
	randomPollIn func() (bool, error) // whether /dev/random polls readable now
	entropyAvail func() string        // /proc/sys/kernel/random/entropy_avail
}

var host = kernel{
	getrandom: func() error {
		var b [1]byte
		_, err := unix.Getrandom(b[:], unix.GRND_NONBLOCK)
		return err
	},
	randomPollIn: func() (bool, error) {
		fd, err := unix.Open("/dev/random", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return false, err
		}
		defer unix.Close(fd)
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(p, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return false, err
			}
			return n == 1 && p[0].Revents&unix.POLLIN != 0, nil
		}
	},
	entropyAvail: func() string {
		b, err := os.ReadFile("/proc/sys/kernel/random/entropy_avail")
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(b))
	},
}

// Wait returns why Nix would wait for the kernel's entropy pool now, or
// "" when it would not (every booted host with a seeded pool). It never
// blocks.
func Wait() string { return host.wait() }

func (k kernel) wait() string {
	err := k.getrandom()
	if err == nil {
		return ""
	}
	if errors.Is(err, unix.EAGAIN) {
		return "the kernel's entropy pool is not initialised yet: Nix may wait for it before it starts (minutes after boot in a VM without a hardware RNG)"
	}
	// No usable getrandom (ENOSYS before 3.17, EPERM or ENOSYS from a
	// seccomp profile): libsodium polls /dev/random.
	ready, perr := k.randomPollIn()
	if perr != nil || ready {
		// Without /dev/random libsodium reads /dev/urandom at once.
		return ""
	}
	return fmt.Sprintf("getrandom is unavailable here (%v) and /dev/random is not readable yet (the kernel's input pool holds %s bits): Nix may wait until it is before it starts",
		err, k.entropyAvail())
}
