package nsbox

import (
	"syscall"
	"unsafe" // go:linkname, and the addresses of the image's buffers

	"golang.org/x/sys/unix"
)

// The sandbox init is a fork of np that never execs np: no second Go
// runtime starts (which cost a 23 MB execve, the runtime's and packages'
// initialisation and its threads on every run). Between the fork and its
// end the init is in the state Go's own syscall.forkAndExecInChild1 is in
// between fork and exec: one thread, signals blocked by BeforeFork, the
// stack guard set so that any stack growth throws. So everything it runs
// is //go:nosplit (no stack check), //go:norace (the race detector's
// calls would need the runtime), allocates nothing, calls only raw
// system calls and functions like these, and writes no pointer (no write
// barrier). Run lays out all it needs beforehand (initImage).

//go:linkname runtimeBeforeFork syscall.runtime_BeforeFork
func runtimeBeforeFork()

//go:linkname runtimeAfterFork syscall.runtime_AfterFork
func runtimeAfterFork()

//go:linkname runtimeAfterForkInChild syscall.runtime_AfterForkInChild
func runtimeAfterForkInChild()

// atFDCWD is AT_FDCWD (-100) as a call argument.
const atFDCWD = ^uintptr(99)

// forkInit clones the init into new user and mount namespaces (no
// CLONE_NEWNET: costly, one report of 359 ms; no CLONE_NEWPID: the host's
// /proc is bound in and must match) and returns its pid, or the clone's
// errno. The init runs img and never returns.
//
//go:norace
//go:nocheckptr
//go:noinline
func forkInit(img *initImage) (int, syscall.Errno) {
	runtimeBeforeFork()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE,
		unix.CLONE_NEWUSER|unix.CLONE_NEWNS|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		runtimeAfterFork()
		return int(pid), errno
	}
	// The child: Go's signal handlers back to the defaults, the
	// thread's signal mask as it was before the fork.
	runtimeAfterForkInChild()
	initMain(img)
	for {
		sc(unix.SYS_EXIT_GROUP, 125, 0, 0, 0, 0, 0)
	}
}

// bytesAddr is the address of b's first byte, for the init: b must stay
// alive and never grow while the init may run.
func bytesAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// wordsAddr is the address of a's first element (see bytesAddr).
func wordsAddr(a []uintptr) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(a))) }

// sc is a raw system call: its result and errno.
//
//go:nosplit
//go:norace
func sc(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, uintptr) {
	r, _, e := syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	return r, uintptr(e)
}

//go:nosplit
//go:norace
func exit(code uintptr) {
	for {
		sc(unix.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

// addr is the address of b, a buffer of the image.
//
//go:nosplit
//go:norace
//go:nocheckptr
func addr(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }

// fail writes the failure record (see the fail* kinds) on the status pipe
// fd and ends the init with 125: the parent makes Run's error of it.
//
//go:nosplit
//go:norace
//go:nocheckptr
func fail(img *initImage, fd int32, kind, x, errno, idx uintptr) {
	put32(&img.record, 0, kind)
	put32(&img.record, 4, x)
	put32(&img.record, 8, errno)
	put32(&img.record, 12, idx)
	sc(unix.SYS_WRITE, uintptr(fd), addr(&img.record[0]), 16, 0, 0, 0)
	exit(125)
}

//go:nosplit
//go:norace
func put32(b *[16]byte, off int, v uintptr) {
	if off < 0 || off > 12 {
		return
	}
	b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// initMain is the init (see doc.go for its steps).
//
//go:nosplit
//go:norace
//go:nocheckptr
func initMain(img *initImage) {
	placeFDs(img)
	writeMaps(img)
	// Before anything changes directory: an O_PATH descriptor reaches
	// the caller's directory even once it has no name inside.
	cwd, e := sc(unix.SYS_OPENAT, atFDCWD, img.dot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		cwd = ^uintptr(0)
	}
	runOps(img)
	sfd := ^uintptr(0)
	if !img.probe {
		// Blocked from here on and read from a signalfd: a signal that
		// comes before the program starts waits for it.
		if _, e := sc(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, addr8(&img.sigMask), addr8(&img.oldMask), 8, 0, 0); e != 0 {
			fail(img, img.statusFD, failStep, stepSignals, e, 0)
		}
		r, e := sc(unix.SYS_SIGNALFD4, ^uintptr(0), addr8(&img.sigMask), 8, unix.SFD_CLOEXEC|unix.SFD_NONBLOCK, 0, 0)
		if e != 0 {
			fail(img, img.statusFD, failStep, stepSignals, e, 0)
		}
		sfd = r
		// np may die between the last launcherGone check and the
		// marker's write: SIGPIPE (default after the fork: death) would
		// end the init before it ends the program's tree, orphaning it.
		// Blocked, the write fails with EPIPE instead. Not in oldMask,
		// so the program gets SIGPIPE as np's caller left it.
		sc(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, addr8(&img.pipeMask), 0, 8, 0, 0)
	}
	// From here on, only the user's own rights: before the cwd and PATH
	// checks, so those see what the program will see.
	dropCaps(img)
	named := enterWorkDir(img, cwd)
	if cwd != ^uintptr(0) {
		sc(unix.SYS_CLOSE, cwd, 0, 0, 0, 0, 0)
	}
	if img.probe {
		if _, e := sc(unix.SYS_WRITE, uintptr(img.statusFD), addr(&img.marker[0]), 1, 0, 0, 0); e != 0 {
			exit(125)
		}
		exit(0)
	}
	file := lookup(img)
	// The init stays the program's parent and the reaper of its whole
	// tree: when np dies, even by SIGKILL, it ends the tree; when the
	// program ends, it ends what the program left running (see README,
	// "Processes after np ends").
	if _, e := sc(unix.SYS_PRCTL, unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0); e != 0 {
		fail(img, img.statusFD, failStep, stepReaper, e, 0)
	}
	if launcherGone(img) {
		exit(125) // np died during the set-up: start nothing
	}
	pid := startProgram(img, file, named)
	if _, e := sc(unix.SYS_WRITE, uintptr(img.statusFD), addr(&img.marker[0]), 1, 0, 0, 0); e != 0 {
		killTree(img) // np is gone: end the program at once
		exit(125)
	}
	supervise(img, pid, sfd)
}

//go:nosplit
//go:norace
//go:nocheckptr
func addr8(p *uint64) uintptr { return uintptr(unsafe.Pointer(p)) }

// placeFDs makes fd i of the init the parent's img.fds[i], as exec.Cmd
// does for a child (the status pipe close-on-exec), and closes every
// other fd: np's own (its end of the status pipe above all, whose
// closing tells the init that np died) must not stay open in the init.
//
//go:nosplit
//go:norace
func placeFDs(img *initImage) {
	n := uintptr(len(img.fds))
	status := int32(-1)
	if img.statusFD >= 0 && int(img.statusFD) < len(img.fds) {
		status = img.fds[img.statusFD]
	}
	// An fd below its slot could be overwritten before it is placed:
	// move it above the table first (F_DUPFD picks a free number).
	for i := range img.fds {
		if fd := img.fds[i]; fd >= 0 && int(fd) < i {
			r, e := sc(unix.SYS_FCNTL, uintptr(fd), unix.F_DUPFD_CLOEXEC, n, 0, 0, 0)
			if e != 0 {
				fail(img, status, failStep, stepFDs, e, 0)
			}
			img.fds[i] = int32(r)
		}
	}
	for i := range img.fds {
		fd := img.fds[i]
		var flags uintptr
		if i == int(img.statusFD) {
			flags = unix.O_CLOEXEC
		}
		var e uintptr
		switch {
		case fd < 0 && (i == 0 || img.fds[i-1] >= 0):
			closeGap(img, i)
		case fd < 0: // closed with the first of its gap
		case int(fd) == i && flags == 0:
			_, e = sc(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFD, 0, 0, 0, 0)
		case int(fd) == i:
			_, e = sc(unix.SYS_FCNTL, uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC, 0, 0, 0)
		default:
			_, e = sc(unix.SYS_DUP3, uintptr(fd), uintptr(i), flags, 0, 0, 0)
		}
		if e != 0 {
			fail(img, status, failStep, stepFDs, e, 0)
		}
	}
	// Linux < 5.9 has no close_range, and a seccomp profile older than
	// it (Docker 20.10's) refuses it with EPERM: scan then.
	if _, e := sc(unix.SYS_CLOSE_RANGE, n, ^uintptr(0)>>32, 0, 0, 0, 0); e == 0 {
		return
	}
	if e := closeByScan(img, n); e != 0 {
		fail(img, img.statusFD, failStep, stepFDs, e, 0)
	}
}

// closeGap closes the fds of the gap in img.fds that starts at i (the
// passed fds keep their numbers, so gaps between them can be long).
//
//go:nosplit
//go:norace
func closeGap(img *initImage, i int) {
	end := i
	for end < len(img.fds) && img.fds[end] < 0 {
		end++
	}
	if _, e := sc(unix.SYS_CLOSE_RANGE, uintptr(i), uintptr(end-1), 0, 0, 0, 0); e == 0 {
		return
	}
	for ; i < end; i++ { // no close_range (see placeFDs)
		sc(unix.SYS_CLOSE, uintptr(i), 0, 0, 0, 0, 0)
	}
}

// closeByScan closes every fd >= n listed in /proc/self/fd.
//
//go:nosplit
//go:norace
//go:nocheckptr
func closeByScan(img *initImage, n uintptr) uintptr {
	dfd, e := sc(unix.SYS_OPENAT, atFDCWD, img.fdDirPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return e
	}
	for {
		got, e := sc(unix.SYS_GETDENTS64, dfd, addr(&img.buf[0]), uintptr(len(img.buf)), 0, 0, 0)
		if e != 0 || got == 0 || got > uintptr(len(img.buf)) {
			sc(unix.SYS_CLOSE, dfd, 0, 0, 0, 0, 0)
			return e
		}
		// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
		for off := uintptr(0); off+20 <= got; {
			reclen := uintptr(img.buf[off+16]) | uintptr(img.buf[off+17])<<8
			fd, ok := uintptr(0), false
			for i := off + 19; i < got && i < off+reclen && img.buf[i] >= '0' && img.buf[i] <= '9'; i++ {
				fd, ok = fd*10+uintptr(img.buf[i]-'0'), true
			}
			if ok && fd >= n && fd != dfd {
				sc(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
			}
			if reclen == 0 {
				break
			}
			off += reclen
		}
	}
}

// writeMaps maps the caller's uid and gid to themselves, from inside (as
// util-linux's unshare -r does): the init has every capability in its
// new user namespace, enough to map its own ids.
//
//go:nosplit
//go:norace
func writeMaps(img *initImage) {
	// An unprivileged gid_map write needs setgroups denied first (no
	// such file before Linux 3.19, where it is not needed).
	if e := writeFile(img.setgroupsPath, img.deny); e != 0 && e != uintptr(unix.ENOENT) {
		fail(img, img.statusFD, failStep, stepMaps, e, 0)
	}
	if e := writeFile(img.uidMapPath, img.uidLine); e != 0 {
		fail(img, img.statusFD, failStep, stepMaps, e, 0)
	}
	if e := writeFile(img.gidMapPath, img.gidLine); e != 0 {
		fail(img, img.statusFD, failStep, stepMaps, e, 0)
	}
}

//go:nosplit
//go:norace
func writeFile(path uintptr, t text) uintptr {
	fd, e := sc(unix.SYS_OPENAT, atFDCWD, path, unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return e
	}
	_, e = sc(unix.SYS_WRITE, fd, t.addr, t.len, 0, 0, 0)
	sc(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	return e
}

// runOps runs the plan (runPlan's rules): a pivot_root refused with
// EINVAL runs its fallback instead; a bind of a host entry that vanished
// removes its mount point and goes on; any other failure ends the init.
//
//go:nosplit
//go:norace
func runOps(img *initImage) {
	i, end := int32(0), img.nMain
	resume, resumeEnd := int32(-1), int32(0)
	for i < end && int(i) < len(img.ops) {
		o := &img.ops[i]
		e := opCall(o)
		switch {
		case e == 0:
		case o.kind == opPivotRoot && o.fallback > 0 && e == uintptr(unix.EINVAL) && resume < 0:
			resume, resumeEnd = i+1, end
			i, end = o.fallback, o.fallbackEnd
			continue
		case o.skipIfGone && e == uintptr(unix.ENOENT):
			if e := removeMountPoint(o.b); e != 0 {
				fail(img, img.statusFD, failRemove, uintptr(i), e, 0)
			}
		default:
			fail(img, img.statusFD, failOp, uintptr(i), e, 0)
		}
		i++
		if i == end && resume >= 0 {
			i, end, resume = resume, resumeEnd, -1
		}
	}
}

//go:nosplit
//go:norace
func opCall(o *rawOp) uintptr {
	var e uintptr
	switch o.kind {
	case opMount:
		_, e = sc(unix.SYS_MOUNT, o.a, o.b, o.c, o.flags, o.d, 0)
	case opUmount:
		_, e = sc(unix.SYS_UMOUNT2, o.a, o.flags, 0, 0, 0, 0)
	case opMkdir:
		_, e = sc(unix.SYS_MKDIRAT, atFDCWD, o.a, 0o755, 0, 0, 0)
	case opCreate:
		// New, on the init's own tmpfs.
		var fd uintptr
		fd, e = sc(unix.SYS_OPENAT, atFDCWD, o.a, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644, 0, 0)
		if e == 0 {
			_, e = sc(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
		}
	case opSymlink:
		_, e = sc(unix.SYS_SYMLINKAT, o.a, atFDCWD, o.b, 0, 0, 0)
	case opPivotRoot:
		_, e = sc(unix.SYS_PIVOT_ROOT, o.a, o.b, 0, 0, 0, 0)
	case opChroot:
		_, e = sc(unix.SYS_CHROOT, o.a, 0, 0, 0, 0, 0)
	case opChdir:
		_, e = sc(unix.SYS_CHDIR, o.a, 0, 0, 0, 0, 0)
	default:
		e = uintptr(unix.ENOSYS)
	}
	return e
}

// removeMountPoint removes path, a file or an empty directory, as
// os.Remove does; one that is gone already is fine.
//
//go:nosplit
//go:norace
func removeMountPoint(path uintptr) uintptr {
	_, e := sc(unix.SYS_UNLINKAT, atFDCWD, path, 0, 0, 0, 0)
	if e == uintptr(unix.EISDIR) || e == uintptr(unix.EPERM) {
		_, e = sc(unix.SYS_UNLINKAT, atFDCWD, path, unix.AT_REMOVEDIR, 0, 0, 0)
	}
	if e == uintptr(unix.ENOENT) {
		return 0
	}
	return e
}

// dropCaps clears the ambient and inheritable sets, and for a non-root
// user the permitted and effective sets too, so the program runs with
// exactly the user's rights (root in the namespace gets its full set back
// at execve anyway, as root on the host would have).
//
//go:nosplit
//go:norace
//go:nocheckptr
func dropCaps(img *initImage) {
	// EINVAL: no ambient set (Linux < 4.3), nothing to clear.
	if _, e := sc(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != uintptr(unix.EINVAL) {
		fail(img, img.statusFD, failStep, stepCaps, e, 0)
	}
	hdr := uintptr(unsafe.Pointer(&img.capHdr))
	data := uintptr(unsafe.Pointer(&img.capData))
	if euid, _ := sc(unix.SYS_GETEUID, 0, 0, 0, 0, 0, 0); euid == 0 {
		if _, e := sc(unix.SYS_CAPGET, hdr, data, 0, 0, 0, 0); e != 0 {
			fail(img, img.statusFD, failStep, stepCaps, e, 0)
		}
		img.capData[2], img.capData[5] = 0, 0 // the inheritable sets
	}
	if _, e := sc(unix.SYS_CAPSET, hdr, data, 0, 0, 0, 0); e != 0 {
		fail(img, img.statusFD, failStep, stepCaps, e, 0)
	}
}

// enterWorkDir makes the caller's working directory the current one (the
// rules are workdir.go's): by name, or through cwd, the descriptor of the
// directory the init inherited. It returns whether the name was entered.
//
//go:nosplit
//go:norace
//go:nocheckptr
func enterWorkDir(img *initImage, cwd uintptr) bool {
	none := ^uintptr(0)
	if img.dir != 0 {
		if _, e := sc(unix.SYS_CHDIR, img.dir, 0, 0, 0, 0, 0); e == 0 {
			if !img.dirInNix {
				return true
			}
			if cwd == none {
				fail(img, img.statusFD, failWorkDir, wdNoCwd, 0, 0)
			}
			st := uintptr(unsafe.Pointer(&img.stat))
			if _, e := sc(unix.SYS_NEWFSTATAT, atFDCWD, img.dot, st, 0, 0, 0); e != 0 {
				fail(img, img.statusFD, failWorkDir, wdStat, e, 0)
			}
			dev, ino := img.stat.Dev, img.stat.Ino
			if _, e := sc(unix.SYS_FSTAT, cwd, st, 0, 0, 0, 0); e != 0 {
				fail(img, img.statusFD, failWorkDir, wdFstat, e, 0)
			}
			if dev != img.stat.Dev || ino != img.stat.Ino {
				fail(img, img.statusFD, failWorkDir, wdHidden, 0, 0)
			}
			return true
		}
	}
	if cwd == none {
		fail(img, img.statusFD, failWorkDir, wdUnreachable, 0, 0)
	}
	if _, e := sc(unix.SYS_FCHDIR, cwd, 0, 0, 0, 0, 0); e != 0 {
		fail(img, img.statusFD, failWorkDir, wdFchdir, e, 0)
	}
	return false
}

// lookup finds the program as proc.LookPath does (img.cand are the files
// it tries) and returns the index of the one to exec.
//
//go:nosplit
//go:norace
func lookup(img *initImage) int {
	if img.nameEmpty || len(img.cand) == 0 {
		fail(img, img.statusFD, failLookup, lookNotFound, 0, 0)
	}
	if img.nameHasSlash {
		e := statFile(img, img.cand[0])
		if e == uintptr(unix.ENOENT) || e == uintptr(unix.ENOTDIR) {
			fail(img, img.statusFD, failLookup, lookNotFound, 0, 0)
		}
		if e == 0 {
			e = checkExec(img, img.cand[0])
		}
		if e != 0 {
			fail(img, img.statusFD, failLookup, lookNotExec, e, 0)
		}
		return 0
	}
	denied, deniedErr := -1, uintptr(0)
	for i := range img.cand {
		// Like bash and dash, a PATH directory that cannot be searched
		// is skipped.
		if statFile(img, img.cand[i]) != 0 {
			continue
		}
		e := checkExec(img, img.cand[i])
		if e == 0 {
			return i
		}
		if denied < 0 {
			denied, deniedErr = i, e // execvp remembers EACCES and keeps searching
		}
	}
	if denied >= 0 {
		fail(img, img.statusFD, failLookup, lookNotExec, deniedErr, uintptr(denied))
	}
	fail(img, img.statusFD, failLookup, lookNotFound, 0, 0)
	return 0
}

//go:nosplit
//go:norace
//go:nocheckptr
func statFile(img *initImage, path uintptr) uintptr {
	_, e := sc(unix.SYS_NEWFSTATAT, atFDCWD, path, uintptr(unsafe.Pointer(&img.stat)), 0, 0, 0)
	return e
}

// checkExecutable: could execve start path, just stat'ed? Real and
// effective ids are the same here, so access(2) answers as execve would.
//
//go:nosplit
//go:norace
func checkExec(img *initImage, path uintptr) uintptr {
	if img.stat.Mode&unix.S_IFMT == unix.S_IFDIR {
		return uintptr(unix.EISDIR) // "is a directory"
	}
	_, e := sc(unix.SYS_FACCESSAT, atFDCWD, path, unix.X_OK, 0, 0, 0)
	return e
}

// launcherGone reports whether np's end of the status pipe is closed.
//
//go:nosplit
//go:norace
//go:nocheckptr
func launcherGone(img *initImage) bool {
	img.polls[0] = pollFd{fd: img.statusFD}
	r, e := sc(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&img.polls[0])), 1, uintptr(unsafe.Pointer(&img.zeroTime)), 0, 8, 0)
	return e == 0 && r > 0 && img.polls[0].revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// startProgram forks the program's process (in the init's process group,
// so the terminal's ^C and ^Z reach it) and returns its pid once it has
// exec'd; an exec that fails ends the init with a lookup failure.
//
//go:nosplit
//go:norace
//go:nocheckptr
func startProgram(img *initImage, file int, named bool) uintptr {
	if file < 0 || file >= len(img.cand) || len(img.shArgv) < 2 {
		fail(img, img.statusFD, failStep, stepStart, uintptr(unix.EINVAL), 0)
	}
	if _, e := sc(unix.SYS_PIPE2, uintptr(unsafe.Pointer(&img.pipe)), unix.O_CLOEXEC, 0, 0, 0, 0); e != 0 {
		fail(img, img.statusFD, failStep, stepExecPipe, e, 0)
	}
	env := img.env
	if named {
		env = img.envPWD // PWD names the directory entered
	}
	pid, e := sc(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		fail(img, img.statusFD, failStep, stepStart, e, 0)
	}
	if pid == 0 {
		sc(unix.SYS_CLOSE, uintptr(img.pipe[0]), 0, 0, 0, 0, 0)
		sc(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, addr8(&img.oldMask), 0, 8, 0, 0)
		_, e = sc(unix.SYS_EXECVE, img.cand[file], img.argv, env, 0, 0, 0)
		if e == uintptr(unix.ENOEXEC) {
			// No #! line nor ELF header: /bin/sh runs it, as execvp does.
			img.shArgv[1] = img.cand[file]
			_, e = sc(unix.SYS_EXECVE, img.shPath, uintptr(unsafe.Pointer(&img.shArgv[0])), env, 0, 0, 0)
		}
		img.errnoBuf = [4]byte{byte(e), byte(e >> 8), byte(e >> 16), byte(e >> 24)}
		sc(unix.SYS_WRITE, uintptr(img.pipe[1]), addr(&img.errnoBuf[0]), 4, 0, 0, 0)
		exit(127)
	}
	sc(unix.SYS_CLOSE, uintptr(img.pipe[1]), 0, 0, 0, 0, 0)
	got, e := uintptr(0), uintptr(unix.EINTR)
	for e == uintptr(unix.EINTR) {
		got, e = sc(unix.SYS_READ, uintptr(img.pipe[0]), addr(&img.errnoBuf[0]), 4, 0, 0, 0)
	}
	sc(unix.SYS_CLOSE, uintptr(img.pipe[0]), 0, 0, 0, 0, 0)
	if e == 0 && got == 4 {
		sc(unix.SYS_WAIT4, pid, uintptr(unsafe.Pointer(&img.wstatus)), 0, 0, 0, 0)
		b := img.errnoBuf
		errno := uintptr(b[0]) | uintptr(b[1])<<8 | uintptr(b[2])<<16 | uintptr(b[3])<<24
		fail(img, img.statusFD, failLookup, lookExec, errno, uintptr(file))
	}
	return pid
}

// supervise waits for the program pid: it reaps every other child that
// ends meanwhile, forwards the signals it reads from sfd, ends the whole
// tree when the program has ended or when np is gone, and ends the way the
// program ended (as launch.Exit does).
//
//go:nosplit
//go:norace
//go:nocheckptr
func supervise(img *initImage, pid, sfd uintptr) {
	img.polls[0] = pollFd{fd: int32(sfd), events: unix.POLLIN}
	img.polls[1] = pollFd{fd: img.statusFD}
	polls := uintptr(unsafe.Pointer(&img.polls[0]))
	for {
		if ws, ended := reap(img, pid); ended {
			killTree(img)
			exitAs(img, ws)
		}
		if _, e := sc(unix.SYS_PPOLL, polls, 2, 0, 0, 8, 0); e != 0 {
			continue
		}
		if img.polls[1].revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			killTree(img) // np died: nothing of the program may outlive it
			exit(125)
		}
		if img.polls[0].revents&unix.POLLIN != 0 {
			forwardSignals(img, pid, sfd)
		}
	}
}

// reap reaps every child that has ended, without blocking, and reports
// pid's status once pid is among them.
//
//go:nosplit
//go:norace
//go:nocheckptr
func reap(img *initImage, pid uintptr) (ws uint32, ended bool) {
	for {
		r, e := sc(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&img.wstatus)), unix.WNOHANG, 0, 0, 0)
		if e == uintptr(unix.EINTR) {
			continue
		}
		if e != 0 || r == 0 {
			return ws, ended
		}
		if r == pid {
			ws, ended = uint32(img.wstatus), true
		}
	}
}

// forwardSignals sends pid the signals read from sfd; SIGINT and SIGQUIT
// not when the init is in its terminal's foreground process group (the
// terminal sent them to the program too: see proc.RunHook).
//
//go:nosplit
//go:norace
func forwardSignals(img *initImage, pid, sfd uintptr) {
	const size = 128 // struct signalfd_siginfo; ssi_signo first
	for {
		got, e := sc(unix.SYS_READ, sfd, addr(&img.buf[0]), uintptr(len(img.buf))/size*size, 0, 0, 0)
		if e != 0 || got < size || got > uintptr(len(img.buf)) {
			return
		}
		for off := uintptr(0); off+size <= got; off += size {
			sig := uintptr(img.buf[off]) | uintptr(img.buf[off+1])<<8
			if sig == uintptr(unix.SIGCHLD) {
				continue
			}
			if (sig == uintptr(unix.SIGINT) || sig == uintptr(unix.SIGQUIT)) && inForeground(img) {
				continue
			}
			sc(unix.SYS_KILL, pid, sig, 0, 0, 0, 0) // ESRCH: its status is on the way
		}
	}
}

//go:nosplit
//go:norace
//go:nocheckptr
func inForeground(img *initImage) bool {
	tty, e := sc(unix.SYS_OPENAT, atFDCWD, img.ttyPath, unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return false // no controlling terminal: the signal was sent with kill
	}
	_, e = sc(unix.SYS_IOCTL, tty, unix.TIOCGPGRP, uintptr(unsafe.Pointer(&img.pgrp)), 0, 0, 0)
	sc(unix.SYS_CLOSE, tty, 0, 0, 0, 0, 0)
	pg, e2 := sc(unix.SYS_GETPGID, 0, 0, 0, 0, 0, 0)
	return e == 0 && e2 == 0 && uintptr(img.pgrp) == pg
}

// killTree SIGKILLs the init's children and reaps them, round after round,
// until it has none (proc's killTree): only direct children are
// signalled, whose pids cannot be reused before the init reaps them;
// their own children become the init's when they die.
//
//go:nosplit
//go:norace
//go:nocheckptr
func killTree(img *initImage) {
	ws := uintptr(unsafe.Pointer(&img.wstatus))
	for {
		r, e := sc(unix.SYS_WAIT4, ^uintptr(0), ws, unix.WNOHANG, 0, 0, 0)
		if e == uintptr(unix.EINTR) || e == 0 && r > 0 {
			continue // reaped one that had ended already
		}
		if e != 0 {
			return // ECHILD: none left
		}
		if img.scanChildren || !killChildren(img) {
			// A kernel built without CONFIG_PROC_CHILDREN
			// (CONFIG_CHECKPOINT_RESTORE before 4.2), as 4.4.178's
			// small config: without the scan the init found no child,
			// blocked in wait4, and the tree outlived np.
			pid, _ := sc(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
			killChildrenByScan(img, pid)
		}
		if _, e := sc(unix.SYS_WAIT4, ^uintptr(0), ws, 0, 0, 0, 0); e != 0 && e != uintptr(unix.EINTR) {
			return
		}
	}
}

// killChildren SIGKILLs the pids in /proc/self/task/<pid>/children (the
// init has one thread); false if the kernel has no such list.
//
//go:nosplit
//go:norace
func killChildren(img *initImage) bool {
	const suffix = "/children\x00"
	pid, _ := sc(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
	n := img.pathPrefix
	var digits [20]byte
	d := len(digits)
	for pid > 0 || d == len(digits) {
		d--
		digits[d] = byte('0' + pid%10)
		pid /= 10
		if d == 0 {
			break
		}
	}
	for ; d < len(digits) && n < len(img.path); d++ {
		img.path[n] = digits[d]
		n++
	}
	for i := 0; i < len(suffix) && n < len(img.path); i++ {
		img.path[n] = suffix[i]
		n++
	}
	fd, e := sc(unix.SYS_OPENAT, atFDCWD, addr(&img.path[0]), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e == uintptr(unix.ENOENT) {
		return false // no such list on this kernel
	}
	if e != 0 {
		return true
	}
	got, e := sc(unix.SYS_READ, fd, addr(&img.buf[0]), uintptr(len(img.buf)), 0, 0, 0)
	sc(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	if e != 0 || got > uintptr(len(img.buf)) {
		return true
	}
	child, in := uintptr(0), false
	for i := uintptr(0); i <= got; i++ {
		if i < got && i < uintptr(len(img.buf)) && img.buf[i] >= '0' && img.buf[i] <= '9' {
			child, in = child*10+uintptr(img.buf[i]-'0'), true
			continue
		}
		if in && child > 0 {
			sc(unix.SYS_KILL, child, uintptr(unix.SIGKILL), 0, 0, 0, 0)
		}
		child, in = 0, false
	}
	return true
}

// exitAs ends the init the way the program ended (ws): its exit code, or
// death by the same signal, re-raised as proc.Reraise does.
//
//go:nosplit
//go:norace
//go:nocheckptr
func exitAs(img *initImage, ws uint32) {
	sig := uintptr(ws & 0x7f)
	if sig == 0 {
		exit(uintptr(ws>>8) & 0xff)
	}
	if sig != uintptr(unix.SIGKILL) {
		sc(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&img.sigact)), 0, 8, 0, 0)
	}
	// The program may have dumped core; a second, useless one of the init
	// on top is not wanted.
	sc(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_CORE, uintptr(unsafe.Pointer(&img.rlimit)), 0, 0, 0)
	img.unblock = 1 << (sig - 1)
	sc(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, addr8(&img.unblock), 0, 8, 0, 0)
	pid, _ := sc(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
	sc(unix.SYS_KILL, pid, sig, 0, 0, 0, 0)
	exit(128 + sig)
}

// killChildrenByScan SIGKILLs the processes whose parent is pid, read from
// every /proc/PID/stat. Like the kernel's lists, it names children only,
// whose pids cannot be reused before the init reaps them.
//
//go:nosplit
//go:norace
func killChildrenByScan(img *initImage, pid uintptr) {
	dfd, e := sc(unix.SYS_OPENAT, atFDCWD, img.procPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return
	}
	for {
		got, e := sc(unix.SYS_GETDENTS64, dfd, addr(&img.buf[0]), uintptr(len(img.buf)), 0, 0, 0)
		if e != 0 || got == 0 || got > uintptr(len(img.buf)) {
			break
		}
		// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
		for off := uintptr(0); off+20 <= got; {
			reclen := uintptr(img.buf[off+16]) | uintptr(img.buf[off+17])<<8
			if reclen == 0 {
				break
			}
			if child := procEntry(img, off+19, off+reclen, got); child != 0 && parentOf(img) == pid {
				sc(unix.SYS_KILL, child, uintptr(unix.SIGKILL), 0, 0, 0, 0)
			}
			off += reclen
		}
	}
	sc(unix.SYS_CLOSE, dfd, 0, 0, 0, 0, 0)
}

// procEntry reads the number named by img.buf[from:] (a /proc entry's
// name, NUL-terminated before end) and makes img.path2 its stat file's
// path; 0 if the name is no number.
//
//go:nosplit
//go:norace
func procEntry(img *initImage, from, end, got uintptr) uintptr {
	const prefix, suffix = "/proc/", "/stat\x00"
	n := 0
	for i := 0; i < len(prefix) && n < len(img.path2); i++ {
		img.path2[n] = prefix[i]
		n++
	}
	num := uintptr(0)
	i := from
	for ; i < end && i < got && i < uintptr(len(img.buf)) && img.buf[i] != 0; i++ {
		c := img.buf[i]
		if c < '0' || c > '9' || n >= len(img.path2) {
			return 0
		}
		num = num*10 + uintptr(c-'0')
		img.path2[n] = c
		n++
	}
	if i == from {
		return 0
	}
	for j := 0; j < len(suffix) && n < len(img.path2); j++ {
		img.path2[n] = suffix[j]
		n++
	}
	return num
}

// parentOf reads the parent pid from the stat file img.path2 names: "pid
// (comm) state ppid ...", where comm may hold spaces and parentheses. 0
// if it cannot be read (the process ended since the listing).
//
//go:nosplit
//go:norace
func parentOf(img *initImage) uintptr {
	fd, e := sc(unix.SYS_OPENAT, atFDCWD, addr(&img.path2[0]), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	if e != 0 {
		return 0
	}
	got, e := sc(unix.SYS_READ, fd, addr(&img.statBuf[0]), uintptr(len(img.statBuf)), 0, 0, 0)
	sc(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	if e != 0 || got > uintptr(len(img.statBuf)) {
		return 0
	}
	paren := -1
	for i := 0; i < int(got) && i < len(img.statBuf); i++ {
		if img.statBuf[i] == ')' {
			paren = i
		}
	}
	if paren < 0 {
		return 0
	}
	// ") S 123 ": skip the space, the state and the space after it.
	i := paren + 1
	for i < int(got) && i < len(img.statBuf) && img.statBuf[i] == ' ' {
		i++
	}
	for i < int(got) && i < len(img.statBuf) && img.statBuf[i] != ' ' {
		i++
	}
	for i < int(got) && i < len(img.statBuf) && img.statBuf[i] == ' ' {
		i++
	}
	ppid := uintptr(0)
	for ; i < int(got) && i < len(img.statBuf) && img.statBuf[i] >= '0' && img.statBuf[i] <= '9'; i++ {
		ppid = ppid*10 + uintptr(img.statBuf[i]-'0')
	}
	return ppid
}
