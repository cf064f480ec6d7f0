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
// a thread exit and their futex hand-offs each time).
type serverThread struct {
	ownFS chan bool   // the thread's unshare(CLONE_FS) worked
	job   chan func() // the loop to give the thread, or closed: not needed
	given bool
}

// startServerThread starts the thread; ownFSNow waits for its answer.
func startServerThread() *serverThread {
	s := &serverThread{ownFS: make(chan bool, 1), job: make(chan func(), 1)}
	go func() {
		// Locked for good (blockSignals): the thread ends with the
		// goroutine, its signal mask and file-system context with it.
		s.ownFS <- blockSignals()
		if loop := <-s.job; loop != nil {
			loop()
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

// hand gives the thread a notification server's loop (already counted
// by the caller's wait group); false when there is no thread to give it
// to. The thread knows nothing of the server: it runs the loop it is
// handed.
func (s *serverThread) hand(loop func()) bool {
	if s == nil || s.given {
		return false
	}
	s.given = true
	s.job <- loop
	return true
}

// release ends the thread when no loop was handed to it.
func (s *serverThread) release() {
	if s != nil && !s.given {
		s.given = true
		close(s.job)
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

// blockSignals locks the calling goroutine to its thread for good and
// blocks every signal there. A signal (the Go runtime's preemption
// SIGURG) interrupting ADDFD with SECCOMP_ADDFD_FLAG_SEND makes the
// kernel answer the caller's open with 0 (the request is withdrawn after
// the reply was marked sent), so the server threads must not see any.
// The thread also gets a file-system context of its own, whose umask
// openNow sets to the caller's before making a file. The thread ends with
// its goroutine, signals still blocked.
func blockSignals() (ownFS bool) {
	runtime.LockOSThread()
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	_ = unix.PthreadSigmask(unix.SIG_BLOCK, &all, nil)
	return unix.Unshare(unix.CLONE_FS) == nil
}
