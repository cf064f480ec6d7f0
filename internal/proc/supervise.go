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
func killTree() { killTreeOf(children) }

// killTreeOf is killTree with list naming the children.
func killTreeOf(list func() []int) {
	for {
		var st syscall.WaitStatus
		got, err := syscall.Wait4(-1, &st, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR), err == nil && got > 0:
			continue // reaped one that had ended already
		case err != nil: // ECHILD: none left (the common case: no /proc scan)
			return
		}
		for _, child := range list() {
			_ = unix.Kill(child, unix.SIGKILL)
		}
		if _, err := syscall.Wait4(-1, &st, 0, nil); err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// children lists this process's children, from every thread's list (an
// orphan is handed to whichever thread of the reaper). A kernel built
// without CONFIG_PROC_CHILDREN (CONFIG_CHECKPOINT_RESTORE before 4.2) has
// no such list: there every process's parent is read instead. (Without
// that, killTree found no child on 4.4.178's config and blocked in wait4
// while the program's tree outlived np.)
func children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	if len(files) == 0 {
		return ChildrenByScan(os.Getpid())
	}
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

// ChildrenByScan lists the processes whose parent is the process parent,
// from each /proc/PID/stat. Like the kernel's lists, it names children
// only, whose pids cannot be reused before their parent reaps them.
func ChildrenByScan(parent int) []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // ended since the listing
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			pids = append(pids, pid)
		}
	}
	return pids
}
