package ptrace

import (
	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// redo answers a call that makes, moves or changes names (notifyRedo).
// When none of its paths changes, the kernel gets it right: it is let
// through. Otherwise the server makes the same call itself, with the
// caller's arguments but its paths as host paths: a changed path becomes
// absolute (AT_FDCWD), an unchanged relative one keeps meaning what it
// meant for the caller (/proc/<tid>/cwd/..., or a copy of the caller's
// directory fd), and an input the call reads from the caller's memory (a
// symlink's text, utimes' times) is copied. A mode is applied with the
// caller's umask, on a server thread with a umask of its own.
func (n *notifier) redo(c caller, req *seccompNotif, info *systable.Info) seccompNotifResp {
	tid, lk := c.tid, c.lk
	args := req.args
	var bufs [6][]byte // registers to point at server memory
	var fds []int      // copies of the caller's fds, closed at the end
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	rewrite := false
	var keep []systable.PathArg
	for _, pa := range info.Paths {
		res, follow, errno, leave := n.t.resolvePath(c, &args, pa, info)
		if leave {
			keep = append(keep, pa)
			continue
		}
		if errno != 0 {
			return failWith(errno)
		}
		host, rw := n.t.hostFor(c, res, follow)
		if !rw {
			keep = append(keep, pa)
			continue
		}
		rewrite = true
		bufs[pa.Arg] = cstring(host)
		if pa.Dirfd >= 0 {
			args[pa.Dirfd] = atFDCWD
		}
	}
	if !rewrite {
		return letThrough
	}
	for _, pa := range keep {
		ptr := req.args[pa.Arg]
		if ptr == 0 {
			continue // NULL stays NULL
		}
		s, ok := lk.mem.readString(tid, ptr)
		if !ok {
			return failWith(unix.EFAULT)
		}
		dirfd := int32(unix.AT_FDCWD)
		if pa.Dirfd >= 0 {
			dirfd = int32(req.args[pa.Dirfd])
		}
		switch {
		case s != "" && s[0] == '/':
			bufs[pa.Arg] = cstring(lk.nsRoot + s)
		case dirfd == unix.AT_FDCWD:
			if s == "" {
				bufs[pa.Arg] = cstring("/proc/" + itoa(tid) + "/cwd")
			} else {
				bufs[pa.Arg] = cstring("/proc/" + itoa(tid) + "/cwd/" + s)
			}
			if pa.Dirfd >= 0 {
				args[pa.Dirfd] = atFDCWD
			}
		default:
			fd, err := callerFD(tgidOf(tid), int(dirfd))
			if err != nil {
				return failWith(guestpath.Errno(err))
			}
			fds = append(fds, fd)
			bufs[pa.Arg] = cstring(s)
			args[pa.Dirfd] = uint64(fd)
		}
	}
	if info.In > 0 {
		reg := info.In - 1
		if ptr := req.args[reg]; ptr != 0 {
			if info.InSize == 0 {
				s, ok := lk.mem.readString(tid, ptr)
				if !ok {
					return failWith(unix.EFAULT)
				}
				bufs[reg] = cstring(s)
			} else {
				b := make([]byte, info.InSize)
				if !readFull(tid, ptr, b) {
					return failWith(unix.EFAULT)
				}
				bufs[reg] = b
			}
		}
	}
	var out []byte // the result buffer, copied back to the caller
	if info.Out > 0 {
		if size := min(args[info.OutSize-1], maxXattr); req.args[info.Out-1] != 0 && size > 0 {
			out = make([]byte, size)
			bufs[info.Out-1] = out
			args[info.OutSize-1] = size
		}
	}
	if info.Umask {
		if !c.ownFS {
			return failWith(unix.ENOSYS)
		}
		unix.Umask(umaskOf(tid))
	}
	if !notifValid(n.fd, req.id) {
		return seccompNotifResp{} // the caller is gone: do nothing for it
	}
	r, errno := redoSyscall(req.nr, args, &bufs)
	if errno != 0 {
		return failWith(errno)
	}
	if out != nil && r > 0 {
		return n.reply(req, req.args[info.Out-1], out[:min(r, uint64(len(out)))], int64(r))
	}
	return seccompNotifResp{val: int64(r)}
}

// maxXattr is the largest extended attribute value or name list Linux
// has (XATTR_SIZE_MAX, XATTR_LIST_MAX).
const maxXattr = 1 << 16

// atFDCWD is AT_FDCWD as a register holds it.
var atFDCWD = func() uint64 { fd := int64(unix.AT_FDCWD); return uint64(fd) }()
