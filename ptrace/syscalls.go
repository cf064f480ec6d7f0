package ptrace

import (
	"strings"

	"github.com/np-portable/np/ptrace/systable"
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
		native := systable.Native()
		if isCompat(r) || native.X32Bit != 0 && nr&int(native.X32Bit) != 0 || nr > native.MaxKnownSyscall {
			return t.fail(th, unix.ENOSYS)
		}
	}
	info := systable.ByNr()[nr]
	if info == nil || th.proc.ownRoot && info.Act != systable.ActRefuse {
		return nil
	}
	// Its paths are looked up in its own mounts (the kernel, given the
	// host path, walks them anyway); unshare and setns have none.
	t.lk.nsRoot = t.nsRootOf(th.tid, th.proc.otherNS, info)
	switch info.Act {
	case systable.ActPaths:
		return t.enterPaths(th, info)
	case systable.ActReadlink:
		return t.enterReadlink(th, info)
	case systable.ActExecve:
		return t.enterExecve(th, 0)
	case systable.ActExecveat:
		return t.enterExecveat(th)
	case systable.ActGetcwd:
		return t.enterGetcwd(th)
	case systable.ActGetdents:
		return t.enterGetdents(th)
	case systable.ActSockaddr:
		return t.enterSockaddr(th, info)
	case systable.ActSockname:
		th.saved = *r
		if lenPtr := arg(r, 2); lenPtr != 0 {
			if n, ok := readWord(th.tid, lenPtr); ok {
				th.exitArg = n & 0xffffffff
				th.exit = exitSockname
			}
		}
		return nil
	case systable.ActPrctl:
		if arg(r, 0) == unix.PR_SET_DUMPABLE && arg(r, 1) == 0 {
			// A non-dumpable tracee would lock the tracer out of its
			// /proc/<pid>/fd and memory; pretend it worked.
			return t.fail(th, 0)
		}
		return nil
	case systable.ActNamespace:
		// unshare(flags) or setns(fd, nstype): nstype 0 may be any
		// namespace. Marked before the call: one that fails only costs
		// the server a check per call.
		flags := arg(r, 0)
		if nr == systable.Numbers()["setns"] {
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
	case systable.ActRefuse:
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

func (t *tracer) enterPaths(th *thread, info *systable.Info) error {
	if info.Cache == systable.CacheForgetAll {
		t.cache.ForgetAll()
	}
	var hosts [3]string
	var regsOf [3]int8
	n := 0
	c := t.atStop(th)
	for _, pa := range info.Paths {
		res, follow, errno, leave := t.resolvePath(c, &th.args, pa, info)
		if leave {
			continue
		}
		if errno != 0 {
			return t.fail(th, errno)
		}
		if host, rewrite := t.hostFor(c, res, follow); rewrite {
			hosts[n], regsOf[n] = host, pa.Arg
			n++
		}
	}
	if info.Name == "mount" {
		if data, ok := t.overlayData(th); ok {
			hosts[n], regsOf[n] = data, 4
			n++
		}
	}
	if n == 0 {
		if info.NewRoot {
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
	if info.NewRoot {
		th.exit = exitNewRoot
	}
	return t.ok(th, setRegs(th.tid, &th.regs))
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
	res, errno := t.res.ResolveIn(t.lk.nsRoot, base, d, true)
	if errno != 0 || !res.Crossed || res.Proc {
		return "", false
	}
	return t.res.HostPath(res), true
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
