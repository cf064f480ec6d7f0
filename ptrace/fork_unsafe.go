package ptrace

import (
	"syscall"
	"unsafe"

	"github.com/np-portable/np/ptrace/systable"
)

// The traced program's process is a fork of np itself, not a second Go
// program: between fork and execve the child only makes system calls from
// a childPlan the parent prepared (fork.go). A re-executed stub cost a
// second Go runtime start (its threads each a clone event to trace), more
// than the rest of a short run together.
//
// The child runs on a copy of the forking thread alone: it must not
// allocate, take locks, grow its stack or call the scheduler. So childMain
// is //go:nosplit and //go:norace, and calls only syscall.RawSyscall*, as
// package syscall's forkAndExecInChild does; the runtime's hooks around a
// fork are the ones syscall uses (the runtime keeps them linkable).

//go:linkname runtime_BeforeFork syscall.runtime_BeforeFork
func runtime_BeforeFork()

//go:linkname runtime_AfterFork syscall.runtime_AfterFork
func runtime_AfterFork()

//go:linkname runtime_AfterForkInChild syscall.runtime_AfterForkInChild
func runtime_AfterForkInChild()

// forkChild forks the child, which runs c and never returns.
// Precondition: the OS thread is locked (it is the tracer thread, and the
// child's parent-death signal follows it).
func forkChild(c *childPlan) (int, error) {
	syscall.ForkLock.Lock()
	runtime_BeforeFork()
	pid, errno := rawFork(c)
	runtime_AfterFork()
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return 0, errno
	}
	return int(pid), nil
}

//go:nosplit
//go:norace
func rawFork(c *childPlan) (uintptr, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return pid, errno
	}
	childMain(c)
	return 0, 0 // not reached
}

// childMain is the child: see childPlan for what each step is for.
//
//go:nosplit
//go:norace
func childMain(c *childPlan) {
	runtime_AfterForkInChild()
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); e != 0 {
		childFail(c, failStart, e)
	}
	if ppid, _, _ := syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0); ppid != c.ppid {
		childExit(c) // np died before the signal was armed
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.syncW), 0, 0)
	for i := 0; i < len(c.fds); i++ {
		switch src := c.fds[i]; {
		case src == fdAsIs:
		case src == fdClose:
			syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(i), 0, 0)
		default:
			if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(src), uintptr(i), 0); e != 0 {
				childFail(c, failStart, e)
			}
		}
	}
	// EOF once the tracer has seized this process: nothing before runs
	// untraced that matters.
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.sync), uintptr(unsafe.Pointer(&c.buf[0])), 1)
		if e != syscall.EINTR {
			break
		}
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.sync), 0, 0)

	if c.seccomp {
		childFilter(c)
	}
	if c.probe {
		if c.seccomp {
			childProbeCalls(c)
		}
		c.buf[0] = statusMarker
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.status), uintptr(unsafe.Pointer(&c.buf[0])), 1)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}

	envp := c.envp
	if c.dir != nil {
		// From here on every path is the guest's: the tracer translates.
		if _, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(c.dir)), 0, 0); e == 0 {
			envp = c.envpPWD
		}
	}
	// Only stdio and the fds the caller passed on purpose reach the
	// program (the rest are np's, close-on-exec already but for fds np's
	// own caller left open by mistake).
	scan := false
	for i := 0; i < len(c.cloexec); i++ {
		if _, _, e := syscall.RawSyscall(sysCloseRange, c.cloexec[i][0], c.cloexec[i][1], closeRangeCloexec); e != 0 {
			scan = true
			break
		}
	}
	if scan {
		for i := 0; i < len(c.open); i++ {
			syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(c.open[i]), syscall.F_SETFD, syscall.FD_CLOEXEC)
		}
	}
	c.buf[0] = statusMarker
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.status), uintptr(unsafe.Pointer(&c.buf[0])), 1)
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(c.file)),
		uintptr(unsafe.Pointer(&c.argv[0])), uintptr(unsafe.Pointer(&envp[0])))
	if e == syscall.ENOEXEC {
		// As execvp: a file without #! or ELF header is a shell script.
		_, _, e = syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(c.sh)),
			uintptr(unsafe.Pointer(&c.shArgv[0])), uintptr(unsafe.Pointer(&envp[0])))
		childFail(c, failExecSh, e)
	}
	childFail(c, failExec, e)
}

// childFilter installs the seccomp filter and hands its notification
// listener to the tracer. Without a listener (Linux < 5.0, or refused) the
// filter sends every call it catches to ptrace stops.
//
//go:nosplit
//go:norace
func childFilter(c *childPlan) {
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, unixPrSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		childFail(c, failNoNewPrivs, e)
	}
	listener := int(-1)
	if c.notifyProg != nil {
		// Where the kernel has it (Linux >= 5.19), a call the server
		// has received waits for its answer killably only: a signal
		// handler then runs once the answer is in, instead of
		// interrupting the call and restarting it. Without that, a
		// restarted open of a FIFO left the server's first open
		// (already waiting for a writer) behind as a phantom reader: a
		// writer met it and left, and the restarted open waited forever.
		fd, _, e := syscall.RawSyscall(sysSeccomp, seccompSetModeFilter, filterFlagListener|filterFlagKillable, uintptr(unsafe.Pointer(c.notifyProg)))
		if e == syscall.EINVAL {
			fd, _, e = syscall.RawSyscall(sysSeccomp, seccompSetModeFilter, filterFlagListener, uintptr(unsafe.Pointer(c.notifyProg)))
		}
		if e != 0 {
			childFail(c, failNotifyFilter, e)
		}
		listener = int(fd)
	} else {
		_, _, e := syscall.RawSyscall(sysSeccomp, seccompSetModeFilter, 0, uintptr(unsafe.Pointer(c.plainProg)))
		if e == syscall.ENOSYS {
			_, _, e = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_SECCOMP, seccompModeFilter, uintptr(unsafe.Pointer(c.plainProg)))
		}
		if e != 0 {
			childFail(c, failFilter, e)
		}
	}
	if listener >= 0 {
		*c.ctrlFD = int32(listener)
		if _, _, e := syscall.RawSyscall(syscall.SYS_SENDMSG, uintptr(c.sock), uintptr(unsafe.Pointer(c.msg)), 0); e != 0 {
			// Calls the filter routes to the listener would fail with
			// ENOSYS from now on: Run starts again without seccomp.
			childFail(c, failSendListener, e)
		}
	}
	// The tracer learns the kernel's stop order from this call (a harmless
	// EEXIST; the filter always traces it: systable.ProbeMark), reads its
	// path (so a tracer that cannot read this process's memory fails
	// here, before the program runs) and, told by an unused argument that
	// a listener was sent, takes it from the socket and sets c.taken.
	syscall.RawSyscall6(syscall.SYS_MKDIRAT, c.atFDCWD, uintptr(unsafe.Pointer(c.root)), 0,
		uintptr(listener), uintptr(unsafe.Pointer(&c.taken)), systable.ProbeMark)
	if listener >= 0 {
		syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(listener), 0, 0)
		if c.taken == 0 {
			childFail(c, failListenerNotTaken, 0)
		}
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.sock), 0, 0)
}

// childProbeCalls makes, traced, the kinds of call a program makes first
// (doctor's probe): a stat under /nix and a directory made and removed
// there, redone by the notification server with the caller's umask.
//
//go:nosplit
//go:norace
func childProbeCalls(c *childPlan) {
	if _, _, e := syscall.RawSyscall6(sysFstatat, c.atFDCWD, uintptr(unsafe.Pointer(c.probeStat)), uintptr(unsafe.Pointer(&c.stat)), 0, 0, 0); e != 0 {
		childFail(c, failProbeStat, e)
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_MKDIRAT, c.atFDCWD, uintptr(unsafe.Pointer(c.probeDir)), 0o700)
	switch e {
	case 0:
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return // the host's answer came back: the call works
	default:
		childFail(c, failProbeMkdir, e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_UNLINKAT, c.atFDCWD, uintptr(unsafe.Pointer(c.probeDir)), atRemoveDir); e != 0 {
		childFail(c, failProbeRmdir, e)
	}
}

// childFail writes the failure (a step code and the errno) on the status
// pipe and exits.
//
//go:nosplit
//go:norace
func childFail(c *childPlan, code byte, e syscall.Errno) {
	c.buf[0] = code
	c.buf[1] = byte(e)
	c.buf[2] = byte(e >> 8)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.status), uintptr(unsafe.Pointer(&c.buf[0])), 3)
	childExit(c)
}

//go:nosplit
//go:norace
func childExit(c *childPlan) {
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 125, 0, 0)
	}
}
