package ptrace

import (
	"strings"

	"golang.org/x/sys/unix"
)

// enter handles a syscall at its seccomp stop (or enter stop without
// seccomp). th.regs holds the registers. It may change the call (the
// registers and memory below the stack pointer), fail it with an errno,
// or ask for the exit stop (th.exit).
func (t *tracer) enter(th *thread) error {
	r := &th.regs
	nr := sysNr(r)
	th.exit = exitNone
	for i := range th.args {
		th.args[i] = arg(r, i)
	}
	if !t.seccomp {
		// What the filter would have refused.
		if isCompat(r) || nativeArch().x32Bit != 0 && nr&int(nativeArch().x32Bit) != 0 || nr > nativeArch().maxKnownSyscall {
			return t.fail(th, unix.ENOSYS)
		}
	}
	info := byNr()[nr]
	if info == nil || th.proc.ownRoot && info.act != actRefuse {
		return nil
	}
	t.lk.nsRoot = ""
	if th.proc.otherNS && info.act != actNamespace && t.inOtherNS(th.tid) {
		// Its paths are looked up in its own mounts; the kernel, given
		// the host path, walks them anyway.
		t.lk.nsRoot = "/proc/" + itoa(th.tid) + "/root"
	}
	switch info.act {
	case actPaths:
		return t.enterPaths(th, info)
	case actReadlink:
		return t.enterReadlink(th, info)
	case actExecve:
		return t.enterExecve(th, 0)
	case actExecveat:
		return t.enterExecveat(th)
	case actGetcwd:
		return t.enterGetcwd(th)
	case actGetdents:
		return t.enterGetdents(th)
	case actSockaddr:
		return t.enterSockaddr(th, info)
	case actSockname:
		th.saved = *r
		if lenPtr := arg(r, 2); lenPtr != 0 {
			if n, ok := readWord(th.tid, lenPtr); ok {
				th.exitArg = n & 0xffffffff
				th.exit = exitSockname
			}
		}
		return nil
	case actPrctl:
		if arg(r, 0) == unix.PR_SET_DUMPABLE && arg(r, 1) == 0 {
			// A non-dumpable tracee would lock the tracer out of its
			// /proc/<pid>/fd and memory; pretend it worked.
			return t.fail(th, 0)
		}
		return nil
	case actNamespace:
		// unshare(flags) or setns(fd, nstype): nstype 0 may be any
		// namespace. Marked before the call: one that fails only costs
		// the server a check per call.
		flags := arg(r, 0)
		if nr == sysNumbers()["setns"] {
			flags = arg(r, 1)
			if flags == 0 {
				flags = unix.CLONE_NEWNS
			}
		}
		if flags&unix.CLONE_NEWNS != 0 && !th.proc.otherNS {
			t.mu.Lock()
			th.proc.otherNS = true
			t.mu.Unlock()
		}
		return nil
	case actRefuse:
		return t.fail(th, unix.ENOSYS)
	}
	return nil
}

// exitStop does th.exit's work at the syscall-exit stop.
func (t *tracer) exitStop(th *thread) error {
	work := th.exit
	th.exit = exitNone
	if work == exitNone {
		return nil
	}
	if err := getRegs(th.tid, &th.regs); err != nil {
		return t.ok(th, err)
	}
	r := &th.regs
	switch work {
	case exitRestore, exitExecve:
		t.restores++
		th.exec = nil
		restoreArgs(r, &th.saved)
		return t.ok(th, setRegs(th.tid, r))
	case exitGetdents:
		return t.exitGetdents(th)
	case exitSockname:
		return t.exitSockname(th)
	case exitScratch:
		return t.exitScratch(th)
	case exitForkReturn:
		return t.forkReturned(th)
	case exitInjectDone:
		return t.exitInjected(th)
	case exitResult:
		setResult(r, int64(th.exitArg))
		return t.ok(th, setRegs(th.tid, r))
	case exitNewRoot:
		if result(r) == 0 {
			t.mu.Lock()
			th.proc.ownRoot = true
			t.mu.Unlock()
		}
		restoreArgs(r, &th.saved)
		return t.ok(th, setRegs(th.tid, r))
	}
	return nil
}

// fail makes the current call return -errno (0: return 0) without
// running it.
func (t *tracer) fail(th *thread, errno unix.Errno) error {
	return t.succeed(th, -int64(errno))
}

// succeed makes the current call return v without running it.
func (t *tracer) succeed(th *thread, v int64) error {
	r := &th.regs
	setNr(r, -1)
	setResult(r, v)
	th.exit = exitNone
	if !t.seccomp {
		// At an enter stop (no filter of ours) the call is not over:
		// since Linux 4.8 the seccomp filters of the host run after the
		// tracer and see the -1, and a container engine's profile
		// answers it with its own errno (Docker's and Podman's: ENOSYS),
		// overwriting v. A seccomp stop's -1 is never filtered again.
		th.exit = exitResult
		th.exitArg = uint64(v)
	}
	return t.ok(th, setRegs(th.tid, r))
}

// hostFor says what path the kernel must be given for res, if not the
// original one.
func (t *tracer) hostFor(th *thread, res resolved, follow bool) (string, bool) {
	if res.proc {
		if follow {
			if p := t.exeOf(th.tid, th.proc, res.guest); p != nil && p.exeHost != "" {
				return p.exeHost, true
			}
		}
		return res.guest, res.crossed
	}
	if !res.crossed {
		return "", false
	}
	return t.res.hostPath(res), true
}

// exeOf returns the process whose /proc/<pid>/exe guest names, or nil;
// tid and proc are the asking thread's. Safe from any goroutine.
func (t *tracer) exeOf(tid int, proc *process, guest string) *process {
	const pre = "/proc/"
	if len(guest) < len(pre) || guest[:len(pre)] != pre {
		return nil
	}
	rest := guest[len(pre):]
	i := 0
	for i < len(rest) && rest[i] != '/' {
		i++
	}
	who, tail := rest[:i], rest[i:]
	switch tail {
	case "/exe":
	case "/task/" + itoa(tid) + "/exe":
		if who != "self" {
			return nil
		}
	default:
		return nil
	}
	switch who {
	case "self", "thread-self":
		return proc
	}
	return t.procOf(atoi(who))
}

// forgetName drops from the lookup cache what it says of a name a call
// removes or replaces (cacheForget), all of it when the name is unknown.
// The tracer and the notification server both call it, before the call.
func (t *tracer) forgetName(info *sysInfo, res resolved, errno unix.Errno, leave bool) {
	if info.cache != cacheForget {
		return
	}
	if leave || errno != 0 {
		t.cache.forgetAll()
	} else {
		t.cache.forget(t.res.toHost(res.guest))
	}
}

func (t *tracer) enterPaths(th *thread, info *sysInfo) error {
	if info.cache == cacheForgetAll {
		t.cache.forgetAll()
	}
	var hosts [3]string
	var regsOf [3]int8
	n := 0
	for _, pa := range info.paths {
		follow := followLast(th.tid, &th.args, pa, info)
		res, errno, leave := t.lk.resolveArg(th.tid, &th.args, pa, follow)
		t.forgetName(info, res, errno, leave)
		if leave {
			continue
		}
		if errno != 0 {
			return t.fail(th, errno)
		}
		if host, rewrite := t.hostFor(th, res, follow); rewrite {
			hosts[n], regsOf[n] = host, pa.arg
			n++
		}
	}
	if info.name == "mount" {
		if data, ok := t.overlayData(th); ok {
			hosts[n], regsOf[n] = data, 4
			n++
		}
	}
	if n == 0 {
		if info.newRoot {
			th.saved = th.regs
			th.exit = exitNewRoot
		}
		return nil
	}
	area, ok, inScratch, err := t.chunkFor(th)
	if !ok {
		return err
	}
	newRegs := th.regs
	for i := 0; i < n; i++ {
		addr, err := area.put(cstring(hosts[i]))
		if err != nil {
			return t.fail(th, unix.EFAULT)
		}
		setArg(&newRegs, int(regsOf[i]), addr)
	}
	th.saved = th.regs
	th.regs = newRegs
	// The argument register keeps the scratch pointer after the call
	// (its string names the same file) unless restoring it is free (no
	// seccomp: the exit stop comes anyway) or the string is on the stack,
	// where a signal frame would overwrite it before a restart. An exit
	// stop for every rewritten path would cost 40 % more stops in Nix.
	if !t.seccomp || !inScratch {
		th.exit = exitRestore
	}
	if info.newRoot {
		th.exit = exitNewRoot
	}
	return t.ok(th, setRegs(th.tid, &th.regs))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func atoi(s string) int {
	n := 0
	if s == "" {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// nsID names a namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

func nsOf(path string) (nsID, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return nsID{}, false
	}
	return nsID{st.Dev, st.Ino}, true
}

// inOtherNS says whether tid's mount namespace is not np's. Asked only
// for processes that may have left it (process.otherNS), so the common
// case pays nothing. Unreadable, it counts as another one: its files are
// then looked for under /proc/<tid>/root, which fails rather than reach
// the wrong ones.
func (t *tracer) inOtherNS(tid int) bool {
	ns, ok := nsOf("/proc/" + itoa(tid) + "/ns/mnt")
	return !ok || ns != t.ownNS
}

// overlayPathKeys are the options of an overlay mount that name
// directories; lowerdir's value is a list separated by ':'.
var overlayPathKeys = map[string]bool{"lowerdir": true, "upperdir": true, "workdir": true, "lowerdir+": true, "datadir+": true}

// overlayData translates the directories in the data of an overlay
// mount (lowerdir=/nix/…,upperdir=…,workdir=…): the kernel reads them as
// paths, as it reads mount's source and target. ok is false when
// nothing changes (another file system, no /nix path, unreadable data).
func (t *tracer) overlayData(th *thread) (string, bool) {
	fstype, ok := t.lk.mem.readString(th.tid, arg(&th.regs, 2))
	if !ok || fstype != "overlay" || arg(&th.regs, 4) == 0 {
		return "", false
	}
	data, ok := t.lk.mem.readString(th.tid, arg(&th.regs, 4))
	if !ok {
		return "", false
	}
	changed := false
	opts := splitUnescaped(data, ',')
	for i, o := range opts {
		k, v, found := strings.Cut(o, "=")
		if !found || !overlayPathKeys[k] {
			continue
		}
		dirs := splitUnescaped(v, ':')
		for j, d := range dirs {
			if h, ok := t.overlayDir(th, d); ok {
				dirs[j], changed = h, true
			}
		}
		opts[i] = k + "=" + strings.Join(dirs, ":")
	}
	if !changed {
		return "", false
	}
	return strings.Join(opts, ","), true
}

// overlayDir is the host path of one directory of an overlay mount's
// options, if it is not the same; a path with escapes is left alone.
func (t *tracer) overlayDir(th *thread, d string) (string, bool) {
	if d == "" || strings.ContainsRune(d, '\\') {
		return "", false
	}
	base := "/"
	if d[0] != '/' {
		var ok bool
		if base, ok = t.lk.baseDir(th.tid, &th.args, -1); !ok {
			return "", false
		}
	}
	res, errno := t.res.resolveIn(t.lk.nsRoot, base, d, true)
	if errno != 0 || !res.crossed || res.proc {
		return "", false
	}
	return t.res.hostPath(res), true
}

// splitUnescaped splits s at every sep not preceded by a backslash.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
