package ptrace

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The notification server answers the calls that only read (stat,
// access, readlink), opens and removals through seccomp user
// notifications instead of ptrace stops: a round trip costs a fraction of
// a stop, no ptrace request is needed, and it runs beside the tracer. It
// never changes a call's arguments (the kernel does not allow it): a call
// whose path the kernel would get right anyway is let through as it is
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE); any other is answered by the server
// doing it on the host path and writing the result into the caller.
// Linux >= 5.5 (CONTINUE); without it the filter traces these calls too.

// How many goroutines serve notifications. Every server is woken for
// every call (the kernel's wait is not exclusive). With synchronous
// wake-ups one is best: the woken server runs on the caller's CPU, and a
// second one costs more in wake-ups than it gains in parallelism
// (measured: a readlink loop 3.7 µs a call with one, 5.0 with two; two
// such loops in parallel 8.2 against 12 µs; make -j2 3.4 s against 4.0).
// Without them (Linux < 6.6) a server is woken on another CPU, and two
// keep two callers from queueing (make -j2 4.2 s against 4.75 s with
// one). Calls that may block (FIFO and device opens) are answered by
// goroutines of their own.
const (
	notifyServersSync  = 1
	notifyServersAsync = 2
)

// panicEnv is a test hook: set to a syscall name (e.g. "newfstatat"), the
// server panics while answering that call, as a bug in it would.
const panicEnv = "NP_TEST_PANIC_IN_NOTIFY"

// startNotifier serves the listener fd until stop; false if it cannot.
func (t *tracer) startNotifier(fd int) bool {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		logrus.Debugf("ptrace: no notification server: %v", err)
		unix.Close(fd)
		return false
	}
	n := &notifier{t: t, fd: fd, stopR: p[0], stopW: p[1], panicOn: os.Getenv(panicEnv)}
	t.notifier = n
	// Synchronous wake-ups (Linux >= 6.6): the kernel runs the server
	// on the caller's CPU and the caller, answered, on the server's,
	// instead of waking an idle CPU each way. On a VM, where waking an
	// idle vCPU costs tens of µs, a round trip drops from 8–30 µs to
	// about 2 µs (measured here). Older kernels refuse the flag: same
	// answers, slower.
	servers := notifyServersSync
	if err := unix.IoctlSetInt(fd, unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP); err != nil {
		logrus.Debugf("ptrace: no synchronous notification wake-ups: %v", err)
		servers = notifyServersAsync
	}
	if serversForTests > 0 {
		servers = serversForTests
	}
	n.servers = servers
	for i := 0; i < servers; i++ {
		n.wg.Add(1)
		if i == 0 && t.server.hand(n.serve) {
			continue
		}
		go n.serve()
	}
	return true
}

// fail records a server's panic and kills the caller, whose exit wakes the
// tracer's wait so that it sees the record promptly.
func (n *notifier) fail(req *seccompNotif, p any) {
	name := fmt.Sprintf("syscall %d", req.nr)
	if info := systable.ByNr()[int(req.nr)]; info != nil {
		name = info.Name
	}
	logrus.Debugf("ptrace: notification server panic: %v\n%s", p, debug.Stack())
	err := fmt.Errorf("internal error in the notification server answering %s: %v", name, p)
	n.broken.CompareAndSwap(nil, &err)
	_ = unix.Kill(int(req.pid), unix.SIGKILL)
}

// failure is the server's internal error, if it had one.
func (n *notifier) failure() error {
	if n == nil {
		return nil
	}
	if e := n.broken.Load(); e != nil {
		return *e
	}
	return nil
}

// stop ends the servers and closes the listener.
func (n *notifier) stop() {
	unix.Write(n.stopW, []byte{0})
	n.wg.Wait()
	unix.Close(n.fd)
	unix.Close(n.stopR)
	unix.Close(n.stopW)
}

func (n *notifier) serve() {
	defer n.wg.Done()
	ownFS := blockSignals()
	lk := lookup{res: n.t.res}
	fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}, {Fd: int32(n.stopR), Events: unix.POLLIN}}
	var req seccompNotif
	var slice freshSlice
	for {
		slice.tick()
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			logrus.Debugf("ptrace: notification server: poll: %v", err)
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
				// No process uses the filter any more; wait for the stop.
				// Out of the poll: HUP and ERR are reported whatever the
				// events asked, so the server spun until the tracer had
				// reaped everything.
				fds[0].Fd = -1
			}
			continue
		}
		if !n.take(&req) {
			continue // the caller went away; another server took it
		}
		n.served.Add(1)
		resp := n.answer(&lk, &req, ownFS)
		if resp.flags == answered {
			continue
		}
		resp.id = req.id
		_ = notifSend(n.fd, &resp) // ENOENT: the caller was interrupted
	}
}

// serversForTests, when > 0, sets the number of servers.
var serversForTests int

// take receives the pending notification the server's poll saw. Every
// server is woken for each one, and NOTIF_RECV blocks when another server
// took it first; a server blocked there (its signals blocked) would never
// see the stop pipe, and stop would wait for it forever after the
// program ended (seen on Linux 5.10, which has no synchronous wake-ups
// and so runs two servers: a nix-build under ptrace hung about once in
// thirteen). So with several servers one at a time checks, with a poll
// that does not wait, that a notification is still pending, and only
// then receives it; a notification withdrawn in between (its caller
// killed) makes the receive fail with ENOENT, not block.
func (n *notifier) take(req *seccompNotif) bool {
	if n.servers > 1 {
		n.recvMu.Lock()
		defer n.recvMu.Unlock()
		fds := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}}
		if k, err := unix.Poll(fds, 0); err != nil || k == 0 || fds[0].Revents&unix.POLLIN == 0 {
			return false
		}
	}
	return notifRecv(n.fd, req) == nil
}

// answerers answer the calls that are not one path's stat, access,
// readlink, open or removal (which answer does itself): getcwd and
// listings read the caller's cwd or directory, and the redone calls may
// have several paths.
var answerers = map[systable.NotifyKind]func(n *notifier, c caller, req *seccompNotif, info *systable.Info) seccompNotifResp{
	systable.NotifyGetcwd:   (*notifier).getcwd,
	systable.NotifyGetdents: (*notifier).getdents,
	systable.NotifyRedo:     (*notifier).redo,
}

// answer decides one call. A panic (a bug) fails the call, kills its
// caller and marks the server broken, which makes the tracer end the whole
// traced tree with an internal error: letting the call through would run
// it on the guest's path, outside the data dir.
func (n *notifier) answer(lk *lookup, req *seccompNotif, ownFS bool) (resp seccompNotifResp) {
	defer func() {
		if p := recover(); p != nil {
			n.fail(req, p)
			resp = failWith(unix.EIO)
		}
	}()
	info := systable.ByNr()[int(req.nr)]
	if n.panicOn != "" && info != nil && info.Name == n.panicOn {
		panic("test hook " + panicEnv)
	}
	if info == nil || info.Notify == systable.ViaPtrace {
		return letThrough
	}
	tid := int(req.pid)
	c := caller{tid: tid, proc: n.t.procOf(tid), lk: lk, server: true, ownFS: ownFS}
	lk.nsRoot = ""
	// ownRoot and otherNS are read under the tracer's lock: the tracer
	// sets them at a stop while this server answers the same process.
	if known, ownRoot, otherNS := n.t.rootAndNSOf(tid); known {
		if ownRoot {
			return letThrough // its paths are its own business (see process)
		}
		// The server's own calls would see np's mounts, not the
		// caller's (Nix's build sandbox mounts /dev/pts and the
		// inputs under its chroot directory before it enters it):
		// it reaches the caller's files through the caller's root.
		lk.nsRoot = n.t.nsRootOf(tid, otherNS, info)
	}
	if answer := answerers[info.Notify]; answer != nil {
		return answer(n, c, req, info)
	}
	if len(info.Paths) == 0 {
		return letThrough
	}
	args := &req.args
	res, follow, errno, leave := n.t.resolvePath(c, args, info.Paths[0], info)
	if leave {
		return letThrough
	}
	if errno != 0 {
		return failWith(errno)
	}
	if info.Notify == systable.NotifyReadlink {
		return n.readlink(c, req, res)
	}
	host, rewrite := n.t.hostFor(c, res, follow)
	if !rewrite {
		return letThrough
	}
	switch info.Notify {
	case systable.NotifyOpen:
		return n.open(req, host, int(args[info.Flags]), uint32(args[info.Flags+1]), ownFS)
	case systable.NotifyStat:
		var st unix.Stat_t
		flags := 0
		if !follow {
			flags = unix.AT_SYMLINK_NOFOLLOW
		}
		if err := unix.Fstatat(unix.AT_FDCWD, host, &st, flags); err != nil {
			return failWith(guestpath.Errno(err))
		}
		return n.reply(req, args[info.Aux], statBytes(&st), 0)
	case systable.NotifyStatfs:
		var st unix.Statfs_t
		if err := unix.Statfs(host, &st); err != nil {
			return failWith(guestpath.Errno(err))
		}
		return n.reply(req, args[info.Aux], statfsBytes(&st), 0)
	case systable.NotifyStatx:
		var stx unix.Statx_t
		flags := int(args[2]) &^ (unix.AT_SYMLINK_NOFOLLOW | unix.AT_EMPTY_PATH)
		if !follow {
			flags |= unix.AT_SYMLINK_NOFOLLOW
		}
		if err := unix.Statx(unix.AT_FDCWD, host, flags, int(uint32(args[3])), &stx); err != nil {
			return failWith(guestpath.Errno(err))
		}
		return n.reply(req, args[info.Aux], statxBytes(&stx), 0)
	case systable.NotifyUnlink, systable.NotifyRmdir:
		flags := 0 // unlink
		switch {
		case info.Flags >= 0: // unlinkat
			flags = int(args[info.Flags])
		case info.Notify == systable.NotifyRmdir:
			flags = unix.AT_REMOVEDIR
		}
		if err := unix.Unlinkat(unix.AT_FDCWD, host, flags); err != nil {
			return failWith(guestpath.Errno(err))
		}
		return seccompNotifResp{}
	case systable.NotifyAccess:
		flags := 0
		if info.Flags >= 0 {
			flags = int(args[info.Flags]) & (unix.AT_EACCESS | unix.AT_SYMLINK_NOFOLLOW)
		}
		if err := faccessat2(host, uint32(args[info.Aux]), flags); err != nil {
			return failWith(guestpath.Errno(err))
		}
		return seccompNotifResp{}
	}
	return letThrough
}

// readlink answers readlink and readlinkat like tracer.enterReadlink.
func (n *notifier) readlink(c caller, req *seccompNotif, res guestpath.Resolved) seccompNotifResp {
	info := systable.ByNr()[int(req.nr)]
	var text string
	if res.Proc {
		var errno unix.Errno
		var ok bool
		if text, errno, ok = n.t.procLinkText(c, res); !ok {
			return letThrough
		}
		if errno != 0 {
			return failWith(errno)
		}
	} else {
		// The server cannot give the caller's call another path: it
		// reads the link itself.
		host, rewrite := n.t.hostFor(c, res, false)
		if !rewrite {
			return letThrough
		}
		target, err := c.lk.procfs.Readlink(host)
		if err != nil {
			return failWith(guestpath.Errno(err))
		}
		text = target
	}
	b, errno := linkReply(text, int32(req.args[info.Aux+1]))
	if errno != 0 {
		return failWith(errno)
	}
	return n.reply(req, req.args[info.Aux], b, int64(len(b)))
}

// open answers an open of host: the server opens it with the caller's
// flags (its credentials are the caller's) and installs the fd in the
// caller, which gets its number as the result. An open that may block (a
// FIFO, a device) is done by a goroutine of its own, so the server keeps
// serving: its peer may be another caller's open.
func (n *notifier) open(req *seccompNotif, host string, flags int, mode uint32, ownFS bool) seccompNotifResp {
	var st unix.Stat_t
	if unix.Stat(host, &st) == nil {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFSOCK:
			// Its own copy of the listener: the open may outlive Run
			// (a FIFO nobody opens), and the number must not be reused
			// under it.
			lfd, err := unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 3)
			if err != nil {
				return failWith(guestpath.Errno(err))
			}
			r := *req
			go func() {
				ownFS := blockSignals()
				defer unix.Close(lfd)
				resp := openNow(lfd, &r, host, flags, mode, ownFS)
				if resp.flags != answered {
					resp.id = r.id
					_ = notifSend(lfd, &resp)
				}
			}()
			return seccompNotifResp{flags: answered}
		}
	}
	return openNow(n.fd, req, host, flags, mode, ownFS)
}

// creates: the open flags with which an open may make a file.
const creates = unix.O_CREAT | unix.O_TMPFILE&^unix.O_DIRECTORY

// openNow opens host for the caller of req. ownFS: this thread has a
// file-system context of its own (blockSignals), so a file it makes is
// made with the caller's umask, as the caller would; without one (never
// seen: unsharing it needs no privilege) such an open fails with ENOSYS
// rather than make a file with np's umask.
func openNow(listener int, req *seccompNotif, host string, flags int, mode uint32, ownFS bool) seccompNotifResp {
	if flags&creates != 0 {
		if !ownFS {
			return failWith(unix.ENOSYS)
		}
		unix.Umask(umaskOf(int(req.pid)))
	}
	// np has a terminal or not; the file is never to become its own.
	fd, err := unix.Open(host, flags|unix.O_CLOEXEC|unix.O_NOCTTY, mode)
	if err != nil {
		return failWith(guestpath.Errno(err))
	}
	defer unix.Close(fd)
	var newFlags uint32
	if flags&unix.O_CLOEXEC != 0 {
		newFlags = unix.O_CLOEXEC
	}
	if err := notifAddFD(listener, req.id, fd, newFlags); err != nil {
		if err == unix.ENOENT {
			return seccompNotifResp{flags: answered} // the caller is gone
		}
		return failWith(guestpath.Errno(err))
	}
	return seccompNotifResp{flags: answered}
}

// getcwd answers getcwd like tracer.enterGetcwd.
func (n *notifier) getcwd(c caller, req *seccompNotif, _ *systable.Info) seccompNotifResp {
	b, errno, ok := n.t.cwdReply(c, req.args[1])
	if !ok {
		return letThrough
	}
	if errno != 0 {
		return failWith(errno)
	}
	return n.reply(req, req.args[0], b, int64(len(b)))
}
