package ptrace

import (
	"io"

	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// Listings of / get a "nix" entry (ls / lists nix; Nix itself looks).
// The notification server reads / for the caller, through a copy of its
// fd (pidfd_getfd: the same open file, the same position), and adds the
// entry to the first batch with room for it, or, if none had room, as
// the last batch of its own. Every other getdents64 is let through.

// maxListing bounds the buffer the server reads / into for one call.
const maxListing = 1 << 16

// getdents answers getdents64(fd, buf, count).
func (n *notifier) getdents(c caller, req *seccompNotif, _ *systable.Info) seccompNotifResp {
	tid := c.tid
	fd := int(int32(req.args[0]))
	if !n.t.listsRoot(c, fd) {
		return letThrough
	}
	tgid := tgidOf(tid)
	own, err := callerFD(tgid, fd)
	if err != nil {
		return letThrough
	}
	defer unix.Close(own)
	count := int(min(req.args[2], maxListing))
	pos, err := unix.Seek(own, 0, io.SeekCurrent)
	if err != nil {
		return letThrough
	}
	key := [2]int{tgid, fd}
	if pos == 0 {
		n.roots.set(key, true) // a listing begins
	}
	buf := make([]byte, count)
	k, err := unix.Getdents(own, buf)
	if err != nil {
		return failWith(guestpath.Errno(err))
	}
	if n.roots.owed(key) && k+nixEntryLen <= count {
		if ent, ok := nixEntry(n.t.res.NixDir); ok {
			copy(buf[k:], ent)
			k += nixEntryLen
			n.roots.set(key, false)
		}
	}
	if k == 0 {
		return seccompNotifResp{}
	}
	return n.reply(req, req.args[1], buf[:k], int64(k))
}
