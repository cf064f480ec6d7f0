package ptrace

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/np-portable/np/ptrace/execplan"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// The kernel itself opens two more paths during execve that no syscall
// rewrite reaches: the ELF interpreter (PT_INTERP) and a script's #!
// interpreter. So the tracer plans the exec: it expands #! lines and, for
// an ELF whose interpreter is under /nix, runs the translated interpreter
// with the program as its argument:
//
//	ld.so --argv0 ARGV0 /nix/store/.../prog ARGS...
//
// (glibc >= 2.33 and musl know --argv0). /proc/<pid>/exe then names the
// loader, so the tracer remembers the program (process.exeGuest/exeHost)
// and answers readlink, open and execve of it.

// execArgs are the registers of execve's arguments.
type execArgs struct {
	path, argv, dirfd int8 // dirfd -1: the cwd
}

func (t *tracer) enterExecve(th *thread, _ int) error {
	return t.planExec(th, execArgs{path: 0, argv: 1, dirfd: -1}, false)
}

// enterExecveat handles execveat: with AT_FDCWD or an absolute path it is
// an execve; relative to another fd or with an empty path (fexecve) it is
// refused with ENOSYS, and libcs fall back to execve of /proc/self/fd/N.
func (t *tracer) enterExecveat(th *thread) error {
	r := &th.regs
	ptr := arg(r, 1)
	s, ok := t.lk.mem.readString(th.tid, ptr)
	if !ok {
		return nil
	}
	if s == "" || s[0] != '/' && int32(arg(r, 0)) != unix.AT_FDCWD {
		return t.fail(th, unix.ENOSYS)
	}
	if arg(r, 4)&unix.AT_SYMLINK_NOFOLLOW != 0 {
		return t.fail(th, unix.ENOSYS)
	}
	return t.planExec(th, execArgs{path: 1, argv: 2, dirfd: 0}, true)
}

// planExec decides how th's exec must run in the guest view and rewrites
// it when the kernel, left alone, would get it wrong.
func (t *tracer) planExec(th *thread, a execArgs, isExecveat bool) error {
	r := &th.regs
	res, errno, leave := t.lk.resolveArg(th.tid, &th.args, systable.PathArg{Arg: a.path, Dirfd: a.dirfd, Follow: systable.FollowYes}, true)
	if leave {
		return nil
	}
	if errno != 0 {
		return t.fail(th, errno)
	}
	crossed := res.Crossed
	progGuest := res.Guest
	var progHost string
	switch {
	case res.Proc:
		p := t.exeOf(th.tid, th.proc, res.Guest)
		if p != nil && p.exeHost != "" {
			progGuest, progHost, crossed = p.exeGuest, p.exeHost, true
			break
		}
		// /proc/self/fd/N (fexecve) and the like: the file it names.
		host, err := t.lk.procfs.Readlink(procForTracer(th.tid, res.Guest))
		if err != nil || !strings.HasPrefix(host, "/") || strings.HasSuffix(host, " (deleted)") {
			return nil
		}
		progHost, progGuest = host, t.res.ToGuest(host)
		crossed = crossed || progGuest != host
	default:
		progHost = t.res.ToHost(progGuest)
	}

	// argv and the path as given are read only when the exec is changed.
	var argvPtrs []uint64
	argvRead, argvOK := false, false
	argv := func() ([]uint64, bool) {
		if !argvRead {
			argvPtrs, argvOK = readPointers(th.tid, arg(r, int(a.argv)))
			argvRead = true
		}
		return argvPtrs, argvOK
	}
	// The path as given, read only when needed (a script's argv, the
	// process's name).
	givenPath, givenRead := "", false
	given := func() string {
		if !givenRead {
			givenPath, _ = t.lk.mem.readString(th.tid, arg(r, int(a.path)))
			givenRead = true
		}
		return givenPath
	}
	var head []string // new leading arguments
	tailFrom := 0     // argvPtrs[tailFrom:] follow them
	script := ""
	plan := &execPlan{exeGuest: progGuest, exeHost: progHost}
	filename := progHost
	for depth := 0; ; depth++ {
		st, errno := execplan.CheckExecutable(progHost)
		if errno != 0 {
			if !crossed {
				return nil // the kernel says the same
			}
			return t.fail(th, errno)
		}
		hdr, err := t.headers.Get(progHost, &st)
		if err != nil {
			// Unreadable (execute-only): the kernel must decide.
			break
		}
		if bytes.HasPrefix(hdr, []byte("#!")) {
			if depth >= execplan.MaxInterpreters {
				return t.fail(th, unix.ELOOP)
			}
			interp, opt, ok := execplan.ParseShebang(hdr)
			if !ok {
				if !crossed {
					return nil
				}
				return t.fail(th, unix.ENOEXEC)
			}
			if depth == 0 {
				script = given()
			}
			newHead := []string{interp}
			if opt != "" {
				newHead = append(newHead, opt)
			}
			newHead = append(newHead, script)
			if head != nil {
				newHead = append(newHead, head[1:]...)
			} else if ptrs, _ := argv(); len(ptrs) > 0 {
				tailFrom = 1
			}
			head = newHead
			script = interp
			base := "/"
			if interp[0] != '/' {
				if base, ok = t.lk.baseDir(th.tid, &th.args, -1); !ok {
					return nil
				}
			}
			ires, errno := t.res.Resolve(base, interp, true)
			if errno != 0 {
				if !crossed && !ires.Crossed {
					return nil
				}
				return t.fail(th, errno)
			}
			crossed = crossed || ires.Crossed
			progGuest, progHost = ires.Guest, t.res.ToHost(ires.Guest)
			plan.exeGuest, plan.exeHost, filename = progGuest, progHost, progHost
			continue
		}
		if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
			if !crossed {
				return nil
			}
			return t.fail(th, unix.ENOEXEC)
		}
		interp, ok := execplan.ELFInterp(progHost, hdr)
		if !ok || interp == "" {
			break // static, or unreadable headers: the kernel decides
		}
		ires, errno := t.res.Resolve("/", interp, true)
		if errno != 0 && !ires.Crossed {
			break // a host interpreter: the kernel finds it (or says ENOENT)
		}
		if errno != 0 {
			return t.fail(th, unix.ENOENT) // what the kernel says of a missing interpreter
		}
		if !ires.Crossed {
			break
		}
		// Run the program through its translated loader.
		argv0 := ""
		if head != nil {
			argv0 = head[0]
		} else if ptrs, _ := argv(); len(ptrs) > 0 {
			argv0, _ = t.lk.mem.readString(th.tid, ptrs[0])
		}
		newHead := []string{interp, "--argv0", argv0, progGuest}
		if head != nil {
			newHead = append(newHead, head[1:]...)
		} else if ptrs, _ := argv(); len(ptrs) > 0 {
			tailFrom = 1
		}
		head = newHead
		filename = t.res.ToHost(ires.Guest)
		crossed = true
		break
	}
	if !crossed {
		return nil
	}
	// The process is named after the path it was exec'd by, as natively
	// (see execplan.Links), not after its loader or interpreter.
	if g := given(); g != "" {
		if name := g[strings.LastIndexByte(g, '/')+1:]; name != filename[strings.LastIndexByte(filename, '/')+1:] {
			if link, ok := t.links.Named(filename, name); ok {
				filename = link
			}
		}
	}
	if head == nil {
		// Only the file changes: argv stays where it is, unread.
		return t.writeExec(th, a, isExecveat, filename, nil, nil, plan)
	}
	if _, ok := argv(); !ok {
		return t.fail(th, unix.EFAULT)
	}
	return t.writeExec(th, a, isExecveat, filename, head, argvPtrs[tailFrom:], plan)
}

// writeExec puts the new filename and, with head, a new argv (head, then
// the pointers tail) below the stack pointer or in the scratch area, in
// one write, and points execve's registers at them.
func (t *tracer) writeExec(th *thread, a execArgs, isExecveat bool, filename string, head []string, tail []uint64, plan *execPlan) error {
	r := &th.regs
	area, ok, err := t.areaFor(th)
	if !ok {
		return err
	}
	// The block: filename, head's strings, then (8-aligned) the argv
	// array; offsets first, then addresses once the block's base is known.
	strs := append([]string{filename}, head...)
	offs := make([]uint64, len(strs))
	size := uint64(0)
	for i, s := range strs {
		offs[i] = size
		size += uint64(len(s)) + 1
	}
	argvOff := (size + 7) &^ 7
	if head != nil {
		size = argvOff + 8*uint64(len(head)+len(tail)+1)
	}
	if area.low != 0 && size > scratchSlotSize {
		area = stackArea(th.tid, stackPointer(r)) // a huge argv: the stack has room
	}
	base := (area.next - size) &^ 15
	block := make([]byte, size)
	for i, s := range strs {
		copy(block[offs[i]:], s)
	}
	if head != nil {
		at := argvOff // the array's terminating NULL is the block's zeroes
		for i := range head {
			binary.LittleEndian.PutUint64(block[at:], base+offs[i+1])
			at += 8
		}
		for _, p := range tail {
			binary.LittleEndian.PutUint64(block[at:], p)
			at += 8
		}
	}
	if addr, err := area.put(block); err != nil || addr != base {
		return t.fail(th, unix.EFAULT)
	}
	th.saved = *r
	argvReg := arg(r, int(a.argv))
	if head != nil {
		argvReg = base + argvOff
	}
	if isExecveat {
		// Becomes execve(filename, argv, envp).
		envp := arg(r, 3)
		setNr(r, systable.Numbers()["execve"])
		setArg(r, 2, envp)
	}
	setArg(r, 0, base)
	setArg(r, 1, argvReg)
	th.exec = plan
	th.exit = exitExecve
	return t.ok(th, setRegs(th.tid, r))
}

// readPointers reads a NULL-terminated array of pointers (argv).
func readPointers(tid int, addr uint64) ([]uint64, bool) {
	if addr == 0 {
		return nil, true // Linux treats a NULL argv as empty
	}
	var out []uint64
	var buf [512]byte
	for len(out) < 1<<20 {
		chunk := buf[:]
		if room := pageSize - int(addr%pageSize); room < len(chunk) {
			chunk = buf[:room&^7]
		}
		n, err := readMem(tid, addr, chunk)
		if err != nil || n < 8 {
			return nil, false
		}
		for i := 0; i+8 <= n; i += 8 {
			p := binary.LittleEndian.Uint64(chunk[i:])
			if p == 0 {
				return out, true
			}
			out = append(out, p)
		}
		addr += uint64(n &^ 7)
	}
	return nil, false
}
