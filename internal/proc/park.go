package proc

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Waiting in a blocking system call keeps a P "in syscall": the runtime's
// sysmon thread then wakes every 20 µs to 10 ms for as long as the wait
// lasts (about 60 nanosleeps in a 10 ms run, in each of np's Go processes),
// and with GOMAXPROCS=1 it hands the P to a newly started thread. A
// goroutine parked in the netpoller leaves every P idle, and sysmon asleep.
// The waits of a short run (np for the init, the init for np's death) park
// there when the kernel lets them.

// errNotPollable: the descriptor cannot be waited for in the netpoller.
var errNotPollable = errors.New("not pollable")

// parkUntil parks the calling goroutine until ready(fd) is true, checking
// it each time f's descriptor is reported readable or in error. It waits
// as a reader even on a pipe's write end (an error is reported to both),
// so that writes to f go on meanwhile. f must have been made from a
// non-blocking descriptor (os.NewFile keeps those in the netpoller).
func parkUntil(f *os.File, ready func(fd int) bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	err = rc.Read(func(fd uintptr) bool { return ready(int(fd)) })
	if err != nil && !errors.Is(err, os.ErrClosed) {
		// A blocking descriptor: RawConn cannot wait for it.
		return errNotPollable
	}
	return err
}

// polled reports whether poll(2) sees any of events on fd now.
func polled(fd int, events int16) bool { return pollFor(fd, events, 0) }

// pollFor polls fd for events (and errors, which poll always reports) for
// up to timeout milliseconds (-1: until one comes), and reports whether
// one came; a failing poll counts as one, so that no caller waits on a
// descriptor poll cannot watch.
func pollFor(fd int, events int16, timeout int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		n, err := unix.Poll(fds, timeout)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || n > 0 && fds[0].Revents&(events|unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0
	}
}

// exitWatch is a pidfd of the child pid, taken right after its start:
// before anything can have reaped it, so that the number cannot name
// another process yet. It is nil where pidfds are missing (Linux < 5.3).
func exitWatch(pid int) *os.File {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "pidfd")
}

// awaitExit parks until the process of w (from exitWatch) has ended, so
// that the wait that follows reaps it without blocking, and closes w.
// Without a w it returns at once, and the wait blocks.
func awaitExit(w *os.File) {
	if w == nil {
		return
	}
	defer w.Close()
	_ = parkUntil(w, func(fd int) bool { return polled(fd, unix.POLLIN) })
}
