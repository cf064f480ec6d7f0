package ptrace

import (
	"encoding/binary"
	"os"
	"strings"

	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// Calls whose results show host paths: the tracer answers them itself
// (readlink of /proc links, getcwd) or fixes the result at the exit stop
// (getdents64 of /, getsockname of unix sockets).

// enterReadlink: /proc/<pid>/{exe,cwd,root,fd/N,...} are read by the
// tracer and answered with guest paths; other links are translated like
// any path (a store symlink's text already is a guest path).
func (t *tracer) enterReadlink(th *thread, info *systable.Info) error {
	pa := info.Paths[0]
	res, errno, leave := t.lk.resolveArg(th.tid, &th.args, pa, false)
	if leave {
		return nil
	}
	if errno != 0 {
		return t.fail(th, errno)
	}
	if !res.Proc {
		return t.enterPaths(th, info)
	}
	text, errno, ok := t.procLinkText(t.atStop(th), res)
	if !ok {
		return nil // readlink of /proc/self itself: the kernel knows best
	}
	if errno != 0 {
		return t.fail(th, errno)
	}
	buf, size := arg(&th.regs, int(pa.Arg)+1), int64(arg(&th.regs, int(pa.Arg)+2))
	b, errno := linkReply(text, int32(size))
	if errno != 0 {
		return t.fail(th, errno)
	}
	if err := writeMem(th.tid, buf, b); err != nil {
		return t.fail(th, unix.EFAULT)
	}
	return t.succeed(th, int64(len(b)))
}

// enterGetcwd answers getcwd when the cwd is under the Nix dir.
func (t *tracer) enterGetcwd(th *thread) error {
	buf, size := arg(&th.regs, 0), arg(&th.regs, 1)
	b, errno, ok := t.cwdReply(t.atStop(th), size)
	if !ok {
		return nil
	}
	if errno != 0 {
		return t.fail(th, errno)
	}
	if err := writeMem(th.tid, buf, b); err != nil {
		return t.fail(th, unix.EFAULT)
	}
	return t.succeed(th, int64(len(b)))
}

// enterGetdents asks for the exit stop of a getdents64 of a directory
// stream on / that still owes its "nix" entry: one that begins (its
// position is 0) or one whose earlier batches had no room for it.
func (t *tracer) enterGetdents(th *thread) error {
	fd := int(int32(arg(&th.regs, 0)))
	if !t.listsRoot(t.atStop(th), fd) {
		return nil
	}
	p := th.proc
	if info, err := os.ReadFile(t.lk.procPath(th.tid, "fdinfo/"+itoa(fd))); err == nil && strings.HasPrefix(string(info), "pos:\t0\n") {
		if p.rootOwed == nil {
			p.rootOwed = map[int]bool{}
		}
		p.rootOwed[fd] = true
	}
	if !p.rootOwed[fd] {
		return nil
	}
	th.saved = th.regs
	th.exit = exitGetdents
	return nil
}

// exitGetdents appends a "nix" entry (struct linux_dirent64) to the first
// batch with room for it, the end of the listing (0) included. (The
// notification server, where there is one, answers these calls instead:
// rootdir.go.)
func (t *tracer) exitGetdents(th *thread) error {
	n := result(&th.regs)
	count := int64(arg(&th.saved, 2))
	if n < 0 || n+nixEntryLen > count {
		return nil
	}
	ent, ok := nixEntry(t.res.NixDir)
	if !ok || writeMem(th.tid, arg(&th.saved, 1)+uint64(n), ent) != nil {
		return nil
	}
	delete(th.proc.rootOwed, int(int32(arg(&th.saved, 0))))
	setResult(&th.regs, n+nixEntryLen)
	return t.ok(th, setRegs(th.tid, &th.regs))
}

// readSockaddrUn reads a sockaddr_un of length n; ok is false for other
// families and abstract names.
func readSockaddrUn(tid int, addr uint64, n int) (string, bool) {
	if addr == 0 || n <= 2 {
		return "", false
	}
	if n > 2+sunPathMax {
		n = 2 + sunPathMax
	}
	b := make([]byte, n)
	if !readFull(tid, addr, b) || binary.LittleEndian.Uint16(b) != unix.AF_UNIX || b[2] == 0 {
		return "", false
	}
	p := b[2:]
	if i := strings.IndexByte(string(p), 0); i >= 0 {
		p = p[:i]
	}
	return string(p), true
}

// enterSockaddr translates the path of a unix socket address (bind,
// connect).
func (t *tracer) enterSockaddr(th *thread, info *systable.Info) error {
	r := &th.regs
	saReg := int(info.Aux)
	path, ok := readSockaddrUn(th.tid, arg(r, saReg), int(uint32(arg(r, saReg+1))))
	if !ok {
		return nil
	}
	follow := info.Name != "bind"
	base := "/"
	if path[0] != '/' {
		if base, ok = t.lk.baseDir(th.tid, &th.args, -1); !ok {
			return nil
		}
	}
	res, errno := t.res.ResolveIn(t.lk.nsRoot, base, path, follow)
	if errno != 0 {
		if res.Crossed {
			return t.fail(th, errno)
		}
		return nil
	}
	if !res.Crossed {
		return nil
	}
	host := t.res.HostPath(res)
	if len(host) >= sunPathMax {
		var err error
		if host, err = t.sockets.shortName(host); err != nil {
			return t.fail(th, unix.ENAMETOOLONG)
		}
	}
	sa := make([]byte, 2+len(host)+1)
	binary.LittleEndian.PutUint16(sa, unix.AF_UNIX)
	copy(sa[2:], host)
	area, ok, err := t.areaFor(th)
	if !ok {
		return err
	}
	addr, err := area.put(sa)
	if err != nil {
		return t.fail(th, unix.EFAULT)
	}
	th.saved = *r
	setArg(r, saReg, addr)
	setArg(r, saReg+1, uint64(len(sa)))
	th.exit = exitRestore
	return t.ok(th, setRegs(th.tid, r))
}

// exitSockname replaces a host socket path by its guest path.
func (t *tracer) exitSockname(th *thread) error {
	if result(&th.regs) != 0 {
		return nil
	}
	addr, lenPtr := arg(&th.saved, 1), arg(&th.saved, 2)
	n, ok := readWord(th.tid, lenPtr)
	if !ok {
		return nil
	}
	host, ok := readSockaddrUn(th.tid, addr, int(uint32(n)))
	if !ok {
		return nil
	}
	guest := t.sockets.longName(host)
	guest = t.res.ToGuest(guest)
	if guest == host {
		return nil
	}
	sa := make([]byte, 2+len(guest)+1)
	binary.LittleEndian.PutUint16(sa, unix.AF_UNIX)
	copy(sa[2:], guest)
	size := int(th.exitArg)
	w := sa
	if len(w) > size {
		w = w[:size]
	}
	if writeMem(th.tid, addr, w) != nil {
		return nil
	}
	var lb [4]byte
	binary.LittleEndian.PutUint32(lb[:], uint32(len(sa)))
	_ = writeMem(th.tid, lenPtr, lb[:])
	return nil
}
