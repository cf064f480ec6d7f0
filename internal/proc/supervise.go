package proc

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supervisor waits for a child while this process is the reaper of its
// tree (PID 1: a container's entrypoint inherits every orphan of the
// container). Make it with NewSupervisor before the child starts, so that
// no SIGCHLD is missed.
type Supervisor struct {
	sigs chan os.Signal
}

// NewSupervisor starts catching SIGCHLD.
func NewSupervisor() *Supervisor {
	s := &Supervisor{sigs: make(chan os.Signal, 16)}
	signal.Notify(s.sigs, unix.SIGCHLD)
	return s
}

// Wait waits for the child pid: it reaps every other child that ends
// meanwhile (no zombies), and once pid has ended kills whatever of the
// tree is left and reaps it. It returns pid's wait status and stops
// catching SIGCHLD.
//
// Killing the rest follows the tree down safely: only direct children are
// signalled (their pids cannot be reused before this process reaps them);
// their own children become this process's when they die, and are
// signalled in the next round, until none is left.
func (s *Supervisor) Wait(pid int) syscall.WaitStatus {
	defer signal.Stop(s.sigs)
	for {
		// Reap first: a SIGCHLD may have come before Notify.
		if ws, ended := reapAll(pid); ended {
			killTree()
			return ws
		}
		<-s.sigs
	}
}

// reapAll reaps every child that has ended, without blocking; it reports
// pid's status once pid is among them.
func reapAll(pid int) (ws syscall.WaitStatus, ended bool) {
	for {
		var st syscall.WaitStatus
		got, err := syscall.Wait4(-1, &st, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return ws, ended
		}
		if got == pid {
			ws, ended = st, true
		}
	}
}

// killTree SIGKILLs this process's children and reaps them, round after
// round, until it has none: what a program left running must not outlive
// it.
func killTree() {
	for {
		var st syscall.WaitStatus
		got, err := syscall.Wait4(-1, &st, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR), err == nil && got > 0:
			continue // reaped one that had ended already
		case err != nil: // ECHILD: none left (the common case: no /proc scan)
			return
		}
		for _, child := range children() {
			_ = unix.Kill(child, unix.SIGKILL)
		}
		if _, err := syscall.Wait4(-1, &st, 0, nil); err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// children lists this process's children, from every thread's list (an
// orphan is handed to whichever thread of the reaper).
func children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
