package ptrace

import (
	"encoding/binary"
	"strings"

	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// The answers both paths give. The tracer at a ptrace stop (paths.go,
// emulate.go, execve.go) and the notification server (notify.go,
// rootdir.go, redo.go) resolve a call's paths, choose the host path the
// kernel must be given, and answer readlink of /proc links, getcwd and
// listings of / with guest paths through the functions here, so each is
// decided once; each path keeps only how its answer reaches the caller
// (registers and memory at a stop, a response from the server).

// caller is the thread a call is answered for.
type caller struct {
	tid  int
	proc *process // nil: a thread the tracer has not seen yet (server only)
	lk   *lookup
	// server: the notification server makes the call itself, from np's
	// own process: /proc/self is np's, so the caller's /proc entries are
	// named by number, and its mounts (another mount namespace) are
	// reached through lk.nsRoot. At a stop the kernel runs the caller's
	// own call with the host path: its /proc/self and mounts are its own.
	server bool
	// ownFS: the server thread answering has a file-system context of
	// its own (blockSignals), so it can make files with the caller's
	// umask.
	ownFS bool
}

// atStop is the caller of th's call at a ptrace stop.
func (t *tracer) atStop(th *thread) caller {
	return caller{tid: th.tid, proc: th.proc, lk: &t.lk}
}

// nsRootOf is "/proc/<tid>/root" for a thread of p in another mount
// namespace than np's, through which the paths of its call info are
// looked up; "" for one in np's, and for unshare and setns, which have
// no paths.
func (t *tracer) nsRootOf(tid int, otherNS bool, info *systable.Info) string {
	if otherNS && info.Act != systable.ActNamespace && t.inOtherNS(tid) {
		return "/proc/" + itoa(tid) + "/root"
	}
	return ""
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

// resolvePath reads and resolves the path argument pa of the call (see
// lookup.resolveArg), following its last component as the call's flags
// say, and drops from the lookup cache what the call will change.
func (t *tracer) resolvePath(c caller, args *[6]uint64, pa systable.PathArg, info *systable.Info) (res guestpath.Resolved, follow bool, errno unix.Errno, leave bool) {
	follow = followLast(c.tid, args, pa, info)
	res, errno, leave = c.lk.resolveArg(c.tid, args, pa, follow)
	t.forgetName(info, res, errno, leave)
	return res, follow, errno, leave
}

// forgetName drops from the lookup cache what it says of a name a call
// removes or replaces (cacheForget), all of it when the name is unknown.
// The tracer and the notification server both call it, before the call.
func (t *tracer) forgetName(info *systable.Info, res guestpath.Resolved, errno unix.Errno, leave bool) {
	if info.Cache != systable.CacheForget {
		return
	}
	if leave || errno != 0 {
		t.cache.ForgetAll()
	} else {
		t.cache.Forget(t.res.ToHost(res.Guest))
	}
}

// hostFor says what path the kernel must be given for res, if not the
// original one: its host path, the program a process runs for its
// /proc/<pid>/exe when it runs through its loader, and for the server
// /proc/self named by number and the caller's own root prefixed.
func (t *tracer) hostFor(c caller, res guestpath.Resolved, follow bool) (string, bool) {
	root := ""
	if c.server {
		root = c.lk.nsRoot
	}
	if res.Proc {
		if follow && c.proc != nil {
			if p := t.exeOf(c.tid, c.proc, res.Guest); p != nil && p.exeHost != "" {
				return root + p.exeHost, true
			}
		}
		if !res.Crossed {
			return "", false
		}
		if c.server {
			return procForTracer(c.tid, res.Guest), true
		}
		return res.Guest, true
	}
	if !res.Crossed {
		return "", false
	}
	return root + t.res.HostPath(res), true
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

// procForTracer turns /proc/self/... and /proc/thread-self/... of tid
// into paths the tracer can use for it.
func procForTracer(tid int, guest string) string {
	rest := guest[len("/proc/"):]
	who, tail := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		who, tail = rest[:i], rest[i:]
	}
	if who == "self" || who == "thread-self" {
		return "/proc/" + itoa(tid) + tail
	}
	return guest
}

// procLinkText is what readlink of the /proc entry res tells the caller:
// for the exe of a process run through its loader, the program; else
// the link's target, as a guest path. ok is false where the kernel
// answers best (readlink of /proc/self itself).
func (t *tracer) procLinkText(c caller, res guestpath.Resolved) (text string, errno unix.Errno, ok bool) {
	if p := t.exeOf(c.tid, c.proc, res.Guest); p != nil && p.exeGuest != "" {
		return p.exeGuest, 0, true
	}
	if !strings.Contains(res.Guest[len("/proc/"):], "/") {
		return "", 0, false
	}
	host, err := c.lk.procfs.Readlink(procForTracer(c.tid, res.Guest))
	if err != nil {
		return "", guestpath.Errno(err), true
	}
	return t.res.ToGuest(host), 0, true
}

// linkReply is readlink's result for a buffer of size bytes: text, cut
// to the size (readlink does not terminate it); EINVAL for a size <= 0.
func linkReply(text string, size int32) ([]byte, unix.Errno) {
	if size <= 0 {
		return nil, unix.EINVAL
	}
	b := []byte(text)
	if len(b) > int(size) {
		b = b[:size]
	}
	return b, 0
}

// cwdReply is getcwd's result for a buffer of size bytes: the caller's
// cwd as a guest path, NUL-terminated, or ERANGE. ok is false where the
// kernel's own answer is right (a cwd outside the Nix dir) or the cwd
// cannot be read.
func (t *tracer) cwdReply(c caller, size uint64) (b []byte, errno unix.Errno, ok bool) {
	host, err := c.lk.procfs.Readlink(c.lk.procPath(c.tid, "cwd"))
	if err != nil || !strings.HasPrefix(host, "/") {
		return nil, 0, false
	}
	guest := t.res.ToGuest(host)
	if guest == host {
		return nil, 0, false
	}
	if uint64(len(guest)+1) > size {
		return nil, unix.ERANGE, true
	}
	return cstring(guest), 0, true
}

// listsRoot says whether the caller's fd is a directory stream on /,
// whose listing must show a "nix" entry (unless the host has its own).
func (t *tracer) listsRoot(c caller, fd int) bool {
	if t.hostNix || fd < 0 {
		return false
	}
	host, err := c.lk.procfs.Readlink(c.lk.procPath(c.tid, "fd/"+itoa(fd)))
	return err == nil && host == "/"
}

// nixEntryLen is a struct linux_dirent64 of "nix": 19 bytes of header,
// "nix\0", 8-aligned.
const nixEntryLen = 24

// nixEntry is the "nix" entry: the data dir's inode, a d_off beyond any
// real entry's.
func nixEntry(nixDir string) ([]byte, bool) {
	var st unix.Stat_t
	if unix.Stat(nixDir, &st) != nil {
		return nil, false
	}
	ent := make([]byte, nixEntryLen)
	binary.LittleEndian.PutUint64(ent[0:], st.Ino)
	binary.LittleEndian.PutUint64(ent[8:], 1<<62)
	binary.LittleEndian.PutUint16(ent[16:], nixEntryLen)
	ent[18] = unix.DT_DIR
	copy(ent[19:], "nix")
	return ent, true
}
