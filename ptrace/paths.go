package ptrace

import (
	"strings"

	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// A call's path arguments rewritten at a ptrace stop: each is resolved
// (answers.go), and one the kernel would get wrong is written as its host
// path into the thread's scratch chunk, the register pointed at it and,
// where needed, put back at the exit stop. An overlay mount's directory
// options are paths too.

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
