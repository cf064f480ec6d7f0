package proc

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// StartProgram starts the program at file (found by LookPath) as a child
// of this process, in the same process group (so the terminal's ^C and ^Z
// reach it), in the current directory, with fds 0-2 and keep at their own
// numbers and nothing else. Like execvp, a file without a #! line or ELF
// header (ENOEXEC) is run by /bin/sh. Failures are *LookupError, as Exec's.
func StartProgram(argv []string, file string, env []string, keep []int) (int, error) {
	files := []uintptr{0, 1, 2}
	for _, fd := range keep {
		for len(files) <= fd {
			files = append(files, ^uintptr(0)) // a gap: closed in the child
		}
		files[fd] = uintptr(fd)
	}
	attr := &syscall.ProcAttr{Env: env, Files: files}
	pid, err := syscall.ForkExec(file, argv, attr)
	if errors.Is(err, unix.ENOEXEC) {
		shArgv := append([]string{"/bin/sh", file}, argv[1:]...)
		pid, err = syscall.ForkExec("/bin/sh", shArgv, attr)
	}
	if err == nil {
		return pid, nil
	}
	lookupErr := &LookupError{Name: argv[0], File: file, Reason: errnoText(err), Err: ErrNotExecutable}
	if errors.Is(err, unix.ENOENT) {
		lookupErr.Reason += " (missing interpreter or dynamic loader?)"
		lookupErr.Err = ErrNotFound
	}
	return 0, lookupErr
}

// BecomeSubreaper makes this process the reaper of every orphan in the
// tree below it (PR_SET_CHILD_SUBREAPER): a program's background children
// then stay this process's children (see children), so Supervise can
// end them all, instead of drifting off to the host's init.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return &os.SyscallError{Syscall: "prctl PR_SET_CHILD_SUBREAPER", Err: err}
	}
	return nil
}

// Supervisor waits for a child while this process is the reaper of its
// tree (a subreaper, or PID 1). Make it with NewSupervisor before the
// child starts: a signal that arrives between the start and the first
// wait must already be caught, or it would kill this process instead of
// reaching the child.
type Supervisor struct {
	sigs chan os.Signal
	keep bool // see KeepCaught
}

// KeepCaught makes Wait return with the signals still caught, for a
// process that ends right after it (the ns init): stopping each is a
// round trip to the runtime's signal thread, 0.1-0.25 ms for the seven
// here. Reraise resets the one it re-raises.
func (s *Supervisor) KeepCaught() { s.keep = true }

// NewSupervisor starts catching SIGCHLD and, if forward, the signals
// RunHook forwards (RunHook itself forwards when it supervises).
func NewSupervisor(forward bool) *Supervisor {
	s := &Supervisor{sigs: make(chan os.Signal, 16)}
	if forward {
		signal.Notify(s.sigs, caught()...)
	}
	signal.Notify(s.sigs, unix.SIGCHLD)
	return s
}

// Wait waits for the child pid: it reaps every other child that ends
// meanwhile (no zombies), forwards caught signals to pid, and once pid has
// ended — or gone is closed (whoever waits for us died) — kills whatever
// of the tree is left and reaps it. It returns pid's wait status, and
// false if gone closed first. It stops catching signals when it returns
// (unless KeepCaught).
//
// Killing the rest follows the tree down safely: only direct children are
// signalled (their pids cannot be reused before this process reaps them);
// their own children become this process's when they die, and are
// signalled in the next round, until none is left.
func (s *Supervisor) Wait(pid int, gone <-chan struct{}) (syscall.WaitStatus, bool) {
	defer func() {
		if !s.keep {
			signal.Stop(s.sigs)
		}
	}()
	var ws syscall.WaitStatus
	ended := false
	for !ended {
		// Reap first: a SIGCHLD may have come before Notify.
		if ws, ended = reapAll(pid); ended {
			break
		}
		select {
		case <-gone:
			logrus.Debugf("supervisor: the launcher is gone; ending the program's tree")
			killTree()
			return 0, false
		case sig := <-s.sigs:
			if sig == unix.SIGCHLD {
				continue
			}
			if (sig == unix.SIGINT || sig == unix.SIGQUIT) && inTerminalForeground() {
				continue // the terminal sent it to the program too
			}
			_ = unix.Kill(pid, sig.(syscall.Signal))
		}
	}
	killTree()
	return ws, true
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
		return childrenByScan(os.Getpid())
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

// childrenByScan lists the processes whose parent is the process parent,
// from each /proc/PID/stat. Like the kernel's lists, it names children
// only, whose pids cannot be reused before their parent reaps them.
func childrenByScan(parent int) []int {
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

// WaitGone returns a channel closed when the reading end of the pipe w
// (whoever waits for this process) is closed: poll reports POLLERR on a
// pipe's write end once it has no reader left, which is what happens when
// the launcher dies, even by SIGKILL. A w made from a non-blocking
// descriptor is watched from the netpoller (see parkUntil), any other by
// a goroutine blocked in poll.
func WaitGone(w *os.File) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		readerGone := func(fd int) bool { return polled(fd, 0) }
		if err := parkUntil(w, readerGone); !errors.Is(err, errNotPollable) {
			return
		}
		for !pollFor(int(w.Fd()), 0, -1) {
		}
	}()
	return gone
}
