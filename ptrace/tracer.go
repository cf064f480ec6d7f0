package ptrace

import (
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"syscall"

	"github.com/np-portable/np/ptrace/execplan"
	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The tracer: one goroutine, locked to its OS thread (every ptrace request
// must come from the thread that attached), runs one wait loop for the
// whole traced tree.

// traceOptions are set at PTRACE_SEIZE and inherited by every new tracee.
// EXITKILL: if np dies, no tracee runs on untranslated.
const traceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK |
	unix.PTRACE_O_TRACECLONE | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

func newTracer(nixDir string, seccomp bool) *tracer {
	cache := guestpath.NewCachedFS(guestpath.SharedFS{}) // the notification servers resolve too
	res := &guestpath.Resolver{View: guestpath.View{NixDir: nixDir}, FS: cache}
	t := &tracer{
		res:     res,
		cache:   cache,
		lk:      lookup{res: res},
		seccomp: seccomp,
		probed:  !seccomp,
		threads: map[int]*thread{},
		parked:  map[int]bool{},
		links:   execplan.Links{Dir: nixDir + "/var/np/exec"},
	}
	t.ownNS, _ = nsOf("/proc/self/ns/mnt")
	var st unix.Stat_t
	t.hostNix = unix.Lstat("/nix", &st) == nil
	return t
}

// seize attaches to the forked child. Precondition: the OS thread is locked.
func (t *tracer) seize(pid int) error {
	opts := traceOptions
	if t.seccomp {
		opts |= unix.PTRACE_O_TRACESECCOMP
	}
	if _, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, uintptr(opts), 0, 0); errno != 0 {
		return fmt.Errorf("ptrace(PTRACE_SEIZE, %d): %w", pid, errno)
	}
	t.root = pid
	t.setThread(pid, &thread{tid: pid, proc: newProcess(), fresh: true, slot: -1})
	if !t.seccomp {
		// Stop it so it can be resumed with PTRACE_SYSCALL.
		if err := unix.PtraceInterrupt(pid); err != nil {
			return fmt.Errorf("ptrace(PTRACE_INTERRUPT, %d): %w", pid, err)
		}
	}
	return nil
}

// loop waits for and handles every stop until no tracee is left. An
// error is an invariant violation: the caller kills the tree. A panic (a
// bug in the tracer) is one too: it is reported, not let loose.
func (t *tracer) loop() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v\n%s", p, debug.Stack())
		}
	}()
	var slice freshSlice
	for {
		slice.tick()
		var ws unix.WaitStatus
		tid, err := unix.Wait4(-1, &ws, unix.WALL, nil)
		if ferr := t.notifier.failure(); ferr != nil {
			return ferr
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for tracees: %w", err)
		}
		if err := t.handle(tid, ws); err != nil {
			return err
		}
	}
}

// killAll kills every tracee: after an invariant violation none may run
// on untranslated. EXITKILL does the same when np itself dies.
func (t *tracer) killAll() {
	for tid := range t.threads {
		_ = unix.Kill(tid, unix.SIGKILL)
	}
	for tid := range t.parked {
		_ = unix.Kill(tid, unix.SIGKILL)
	}
}

func (t *tracer) handle(tid int, ws unix.WaitStatus) error {
	t.stops++
	if ws.Exited() || ws.Signaled() {
		if th := t.threads[tid]; th != nil {
			th.releaseSlot()
		}
		t.setThread(tid, nil)
		delete(t.parked, tid)
		if tid == t.root {
			t.rootWS, t.rootDone = syscall.WaitStatus(ws), true
			if unix.Getpid() == 1 {
				// np is a container's init: natively the program would be,
				// and its exit would end every process of the container.
				// Do the same, or `docker stop` waits for a background
				// process the program left and then kills the container.
				t.killAll()
			}
		}
		return nil
	}
	if !ws.Stopped() {
		return nil
	}
	th := t.threads[tid]
	if th == nil {
		// A new child's first stop, before its parent's fork event:
		// park it until the event says whose it is.
		t.parked[tid] = true
		return nil
	}
	sig := ws.StopSignal()
	event := int(uint32(ws)>>16) & 0xff
	switch {
	case sig == unix.SIGTRAP|0x80:
		return t.syscallStop(th)
	case event == unix.PTRACE_EVENT_SECCOMP:
		return t.seccompStop(th)
	case event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE:
		return t.newChild(th, event)
	case event == unix.PTRACE_EVENT_EXEC:
		return t.execEvent(th)
	case event == unix.PTRACE_EVENT_STOP:
		switch sig {
		case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
			// A group-stop: stay stopped, but let SIGCONT (or a signal)
			// wake the tracee; ^Z and fg work as without np.
			return t.ok(th, ptraceListen(tid))
		}
		return t.resume(th, 0)
	case event != 0:
		return t.resume(th, 0)
	}
	// A signal-delivery stop: deliver the signal.
	return t.resume(th, int(sig))
}

func ptraceListen(tid int) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_LISTEN, uintptr(tid), 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// resume restarts th, asking for its next syscall stop when it needs one.
func (t *tracer) resume(th *thread, sig int) error {
	var err error
	if !t.seccomp || th.exit != exitNone || th.skipEnter {
		err = unix.PtraceSyscall(th.tid, sig)
	} else {
		err = unix.PtraceCont(th.tid, sig)
	}
	return t.ok(th, err)
}

func (t *tracer) newChild(parent *thread, event int) error {
	msg, err := unix.PtraceGetEventMsg(parent.tid)
	if err != nil {
		return t.ok(parent, err)
	}
	tid := int(msg)
	var flags uint64
	switch event {
	case unix.PTRACE_EVENT_VFORK:
		flags = unix.CLONE_VM | unix.CLONE_VFORK
	case unix.PTRACE_EVENT_CLONE, unix.PTRACE_EVENT_FORK:
		// A fork event too: a clone or clone3 with SIGCHLD as its exit
		// signal reports as a fork, and may have CLONE_NEWNS.
		flags = t.cloneFlags(parent)
	}
	proc := parent.proc
	if flags&unix.CLONE_THREAD == 0 {
		cp := *parent.proc
		if flags&unix.CLONE_VM == 0 {
			// A copy of the address space: the scratch area is there at
			// the same address, with the same slots taken.
			sc := *parent.proc.scratch
			sc.free = append([]int(nil), sc.free...)
			if parent.slot >= 0 {
				// The child's thread is the parent thread's copy: its
				// slot is free in the copy.
				sc.free = append(sc.free, parent.slot)
			}
			cp.scratch = &sc
		}
		cp.forks = 0
		cp.otherNS = cp.otherNS || flags&unix.CLONE_NEWNS != 0
		cp.rootOwed = maps.Clone(parent.proc.rootOwed) // the child's fd table is a copy
		proc = &cp
		parent.proc.forks++
	}
	th := &thread{tid: tid, proc: proc, fresh: true, slot: -1}
	t.setThread(tid, th)
	if t.parked[tid] {
		delete(t.parked, tid)
		if err := t.resume(th, 0); err != nil {
			return err
		}
	}
	// A process that forks again and again (a shell, make) gets its
	// scratch area now, on the way out of fork: its later children
	// inherit it instead of each mapping their own.
	if sc := parent.proc.scratch; parent.proc.forks == 2 && sc.addr == 0 && !sc.failed && parent.exit == exitNone {
		parent.exit = exitForkReturn
	}
	return t.resume(parent, 0)
}

// cloneFlags returns the flags of the clone or clone3 in progress.
func (t *tracer) cloneFlags(parent *thread) uint64 {
	var r regs
	if getRegs(parent.tid, &r) != nil {
		return 0
	}
	var flags uint64
	switch sysNr(&r) {
	case unix.SYS_CLONE:
		flags = arg(&r, 0)
	case unix.SYS_CLONE3:
		flags, _ = readWord(parent.tid, arg(&r, 0)) // struct clone_args starts with flags
	}
	return flags
}

func newProcess() *process { return &process{scratch: &scratch{}} }

func (t *tracer) execEvent(th *thread) error {
	if msg, err := unix.PtraceGetEventMsg(th.tid); err == nil && int(msg) != th.tid {
		// A non-leader thread exec'd: it now has the leader's tid.
		if former := t.threads[int(msg)]; former != nil {
			t.setThread(int(msg), nil)
			former.tid = th.tid
			t.setThread(th.tid, former)
			th = former
		}
	}
	proc := newProcess()
	proc.ownRoot = th.proc.ownRoot // the root stays changed across exec
	proc.otherNS = th.proc.otherNS // so does the mount namespace
	if plan := th.exec; plan != nil {
		proc.exeGuest, proc.exeHost = plan.exeGuest, plan.exeHost
	}
	t.mu.Lock()
	th.proc = proc
	t.mu.Unlock()
	th.slot = -1
	th.exec = nil
	th.exit = exitNone
	th.skipEnter = false
	if t.seccomp {
		th.inSyscall = false
	}
	return t.resume(th, 0)
}

func (t *tracer) seccompStop(th *thread) error {
	th.fresh = false
	if err := getRegs(th.tid, &th.regs); err != nil {
		return t.ok(th, err)
	}
	if !t.probed && th.tid == t.root {
		return t.probeStop(th)
	}
	if err := t.enter(th); err != nil {
		return err
	}
	if th.exit != exitNone {
		th.skipEnter = t.oldOrder
	}
	return t.resume(th, 0)
}

// probeStop handles the child's probe call (mkdirat of "/"): resumed
// with PTRACE_SYSCALL, the next stop is its enter stop on kernels before
// 4.8 (seccomp stop first) and its exit stop after.
func (t *tracer) probeStop(th *thread) error {
	tid := th.tid
	// The probe's path, read as every path will be: a tracer that cannot
	// read the program's memory stops here, before the program runs.
	if path, ok := t.lk.mem.readString(tid, arg(&th.regs, 1)); !ok || path != "/" {
		return fmt.Errorf("reading the traced program's memory (with %s): got %q", memVia, path)
	}
	if fd := int32(arg(&th.regs, 3)); fd > 2 {
		// The child sent its notification listener.
		if l, err := recvFD(t.listenerSock); err != nil {
			logrus.Debugf("ptrace: %v", err)
		} else if t.startNotifier(l) {
			// Tell the child (its childPlan.taken).
			if err := writeMem(tid, arg(&th.regs, 4), []byte{1, 0, 0, 0}); err != nil {
				return fmt.Errorf("writing the traced program's memory (with %s): %w", memVia, err)
			}
		}
	}
	if !noSyscallInfoForTests && atSeccompStopInfo(tid) {
		// Linux >= 5.3: the new order, without a stop to learn it.
		t.probed = true
		logrus.Debugf("ptrace: seccomp stop order: new (PTRACE_GET_SYSCALL_INFO)")
		return t.resume(th, 0)
	}
	t.orderByStop = true
	if err := unix.PtraceSyscall(tid, 0); err != nil {
		return t.ok(th, err)
	}
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(tid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || !ws.Stopped() {
			if err == nil {
				return t.handle(tid, ws)
			}
			return fmt.Errorf("probing the seccomp stop order: %w", err)
		}
		if ws.StopSignal() != unix.SIGTRAP|0x80 {
			return fmt.Errorf("probing the seccomp stop order: unexpected stop %#x", uint32(ws))
		}
		var r regs
		if err := getRegs(tid, &r); err != nil {
			return t.ok(th, err)
		}
		if atSyscallEnter(&r) {
			t.oldOrder = true
			if err := unix.PtraceSyscall(tid, 0); err != nil {
				return t.ok(th, err)
			}
			continue
		}
		t.probed = true
		logrus.Debugf("ptrace: seccomp stop order: old (before syscall-enter) = %v", t.oldOrder)
		return t.resume(th, 0)
	}
}

func (t *tracer) syscallStop(th *thread) error {
	if th.exit == exitInjectEnter {
		// The injected mmap's enter stop: on to its exit.
		th.exit = exitInjectDone
		th.inSyscall = true
		return t.ok(th, unix.PtraceSyscall(th.tid, 0))
	}
	if t.seccomp {
		if th.skipEnter {
			th.skipEnter = false
			return t.ok(th, unix.PtraceSyscall(th.tid, 0))
		}
		if err := t.exitStop(th); err != nil {
			return err
		}
		return t.resume(th, 0)
	}
	if err := getRegs(th.tid, &th.regs); err != nil {
		return t.ok(th, err)
	}
	entering := !th.inSyscall
	if th.fresh {
		// A new child may first stop at the exit of the fork it came from
		// (x86_64; an arm64 child's first stop is its next call's enter).
		entering = atSyscallEnter(&th.regs)
		th.fresh = false
	}
	if entering {
		th.inSyscall = true
		if err := t.enter(th); err != nil {
			return err
		}
	} else {
		th.inSyscall = false
		if err := t.exitStop(th); err != nil {
			return err
		}
	}
	return t.ok(th, unix.PtraceSyscall(th.tid, 0))
}

// setThread records (or with nil forgets) a thread. Only the tracer
// goroutine writes the map; it reads it without the lock.
func (t *tracer) setThread(tid int, th *thread) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th == nil {
		delete(t.threads, tid)
		return
	}
	t.threads[tid] = th
}
