package ptrace

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// serverThread is the first notification server's thread, started before
// the child is forked. Whether a thread may have a file-system context of
// its own (unshare(CLONE_FS): Docker's profile refuses it) decides which
// calls the filter gives the server, so it must be known before the
// filter is chosen; the thread that learns it by trying is the one that
// then serves, instead of a thread started and ended only to try (a clone,
// a thread exit and their futex hand-offs on every run).
type serverThread struct {
	ownFS chan bool      // the thread's unshare(CLONE_FS) worked
	serve chan *notifier // the notifier to serve, or closed: not needed
	given bool
}

// startServerThread starts the thread; ownFSNow waits for its answer.
func startServerThread() *serverThread {
	s := &serverThread{ownFS: make(chan bool, 1), serve: make(chan *notifier, 1)}
	go func() {
		// Locked for good (blockSignals): the thread ends with the
		// goroutine, its signal mask and file-system context with it.
		s.ownFS <- blockSignals()
		if n := <-s.serve; n != nil {
			n.serve()
		}
	}()
	return s
}

// ownFSNow is the thread's answer.
func (s *serverThread) ownFSNow() bool {
	v := <-s.ownFS
	s.ownFS <- v
	return v
}

// run has the thread serve n (n.wg counts it already); false when there
// is no thread to give it to.
func (s *serverThread) run(n *notifier) bool {
	if s == nil || s.given {
		return false
	}
	s.given = true
	s.serve <- n
	return true
}

// release ends the thread when no notifier was given to it.
func (s *serverThread) release() {
	if s != nil && !s.given {
		s.given = true
		close(s.serve)
	}
}

// probeOwnFS tries unshare(CLONE_FS) on a thread that then ends: for
// Diagnose, which runs nothing.
func probeOwnFS() bool {
	done := make(chan bool)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		done <- unix.Unshare(unix.CLONE_FS) == nil
	}()
	return <-done
}
