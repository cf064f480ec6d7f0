package ptrace

import (
	"encoding/binary"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// Listings of / get a "nix" entry (ls / lists nix; Nix itself looks).
// The notification server reads / for the caller, through a copy of its
// fd (pidfd_getfd: the same open file, the same position), and adds the
// entry to the first batch with room for it, or, if none had room, as
// the last batch of its own. Every other getdents64 is let through.

// nixEntryLen is a struct linux_dirent64 of "nix": 19 bytes of header,
// "nix\0", 8-aligned.
const nixEntryLen = 24

// rootListings remembers the listings of / that have begun and still
// owe their "nix" entry, by process and fd.
type rootListings struct {
	mu      sync.Mutex
	pending map[[2]int]bool
}

func (r *rootListings) set(key [2]int, owed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[[2]int]bool{}
	}
	if owed {
		r.pending[key] = true
	} else {
		delete(r.pending, key)
	}
}

func (r *rootListings) owed(key [2]int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[key]
}

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

// tgidOf returns tid's thread group (pidfd_open wants a process before
// Linux 6.9); tid itself when /proc does not say.
func tgidOf(tid int) int {
	if v, ok := statusField(tid, "Tgid", 10); ok {
		return v
	}
	return tid
}

// statusField reads a number from /proc/<tid>/status.
func statusField(tid int, name string, base int) (int, bool) {
	b, err := os.ReadFile("/proc/" + itoa(tid) + "/status")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.Index(s, "\n"+name+":\t")
	if i < 0 {
		return 0, false
	}
	line := s[i+len(name)+3:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	v, err := strconv.ParseInt(strings.TrimSpace(line), base, 64)
	return int(v), err == nil
}
