package ptrace

import (
	"bytes"
	"encoding/binary"
	"strings"

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

// maxInterpreters is how many #! levels the kernel follows (its
// recursion limit of binfmt handlers).
const maxInterpreters = 4

// execPlan is an execve the tracer changed, kept until the exec event:
// the program the process will run (process.exeGuest/exeHost).
type execPlan struct {
	exeGuest, exeHost string
}

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
	res, errno, leave := t.lk.resolveArg(th.tid, &th.args, pathArg{arg: a.path, dirfd: a.dirfd, follow: followYes}, true)
	if leave {
		return nil
	}
	if errno != 0 {
		return t.fail(th, errno)
	}
	crossed := res.crossed
	progGuest := res.guest
	var progHost string
	switch {
	case res.proc:
		p := t.exeOf(th.tid, th.proc, res.guest)
		if p != nil && p.exeHost != "" {
			progGuest, progHost, crossed = p.exeGuest, p.exeHost, true
			break
		}
		// /proc/self/fd/N (fexecve) and the like: the file it names.
		host, err := t.lk.procfs.readlink(t.procLinkForTracer(th, res.guest))
		if err != nil || !strings.HasPrefix(host, "/") || strings.HasSuffix(host, " (deleted)") {
			return nil
		}
		progHost, progGuest = host, t.res.toGuest(host)
		crossed = crossed || progGuest != host
	default:
		progHost = t.res.toHost(progGuest)
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
		st, errno := checkExecutable(progHost)
		if errno != 0 {
			if !crossed {
				return nil // the kernel says the same
			}
			return t.fail(th, errno)
		}
		hdr, err := t.headers.get(progHost, &st)
		if err != nil {
			// Unreadable (execute-only): the kernel must decide.
			break
		}
		if bytes.HasPrefix(hdr, []byte("#!")) {
			if depth >= maxInterpreters {
				return t.fail(th, unix.ELOOP)
			}
			interp, opt, ok := parseShebang(hdr)
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
			ires, errno := t.res.resolve(base, interp, true)
			if errno != 0 {
				if !crossed && !ires.crossed {
					return nil
				}
				return t.fail(th, errno)
			}
			crossed = crossed || ires.crossed
			progGuest, progHost = ires.guest, t.res.toHost(ires.guest)
			plan.exeGuest, plan.exeHost, filename = progGuest, progHost, progHost
			continue
		}
		if !bytes.HasPrefix(hdr, []byte("\x7fELF")) {
			if !crossed {
				return nil
			}
			return t.fail(th, unix.ENOEXEC)
		}
		interp, ok := elfInterp(progHost, hdr)
		if !ok || interp == "" {
			break // static, or unreadable headers: the kernel decides
		}
		ires, errno := t.res.resolve("/", interp, true)
		if errno != 0 && !ires.crossed {
			break // a host interpreter: the kernel finds it (or says ENOENT)
		}
		if errno != 0 {
			return t.fail(th, unix.ENOENT) // what the kernel says of a missing interpreter
		}
		if !ires.crossed {
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
		filename = t.res.toHost(ires.guest)
		crossed = true
		break
	}
	if !crossed {
		return nil
	}
	// The process is named after the path it was exec'd by, as natively
	// (see execname.go), not after its loader or interpreter.
	if g := given(); g != "" {
		if name := g[strings.LastIndexByte(g, '/')+1:]; name != filename[strings.LastIndexByte(filename, '/')+1:] {
			if link, ok := t.links.named(filename, name); ok {
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
		setNr(r, sysNumbers()["execve"])
		setArg(r, 2, envp)
	}
	setArg(r, 0, base)
	setArg(r, 1, argvReg)
	th.exec = plan
	th.exit = exitExecve
	return t.ok(th, setRegs(th.tid, r))
}

// procLinkForTracer turns a tracee's /proc/self/... into a path the
// tracer can read for it.
func (t *tracer) procLinkForTracer(th *thread, guest string) string {
	rest := guest[len("/proc/"):]
	who, tail := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		who, tail = rest[:i], rest[i+1:]
	}
	if who == "self" || who == "thread-self" {
		return t.lk.procPath(th.tid, tail)
	}
	return guest
}

// checkExecutable is execve's own check: a regular file the caller may
// execute, else EACCES (ENOENT and the like as they come).
func checkExecutable(host string) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil {
		return st, toErrno(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return st, unix.EACCES
	}
	if err := unix.Faccessat(unix.AT_FDCWD, host, unix.X_OK, unix.AT_EACCESS); err != nil {
		return st, toErrno(err)
	}
	return st, 0
}

// headerCache keeps the first bytes of programs exec'd, keyed by what
// stat says of them (a changed file has another inode, size or mtime):
// a shell loop execs the same few programs thousands of times.
type headerCache map[headerKey][]byte

type headerKey struct {
	dev, ino, size uint64
	mtime, mtimeNs int64
}

// maxHeaders bounds the cache (4 KiB each).
const maxHeaders = 512

func (c *headerCache) get(host string, st *unix.Stat_t) ([]byte, error) {
	k := headerKey{dev: st.Dev, ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Sec, mtimeNs: st.Mtim.Nsec}
	if h, ok := (*c)[k]; ok {
		return h, nil
	}
	h, err := readHeader(host)
	if err != nil {
		return nil, err
	}
	if *c == nil || len(*c) >= maxHeaders {
		*c = headerCache{}
	}
	(*c)[k] = h
	return h, nil
}

// headerSize covers a #! line (the kernel reads 256 bytes), and usually
// an ELF header, its program headers and the interpreter's name: one read
// answers all the planning needs.
const headerSize = 4096

func readHeader(host string) ([]byte, error) {
	fd, err := unix.Open(host, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, headerSize)
	n, err := unix.Pread(fd, b, 0)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// parseShebang splits a #! line as the kernel does: the interpreter is
// the first word, the rest of the line (trimmed) one optional argument.
func parseShebang(hdr []byte) (interp, opt string, ok bool) {
	line := hdr[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", false
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		interp, opt = s[:i], strings.Trim(s[i:], " \t")
	} else {
		interp = s
	}
	if i := strings.IndexByte(interp, 0); i >= 0 {
		interp = interp[:i]
	}
	return interp, opt, interp != ""
}

// elfInterp returns the PT_INTERP of the ELF file at host ("" if none).
func elfInterp(host string, hdr []byte) (string, bool) {
	if len(hdr) < 64 {
		return "", false
	}
	le := binary.LittleEndian
	var phoff uint64
	var phentsize, phnum int
	minEntry := 56 // Elf64_Phdr
	switch hdr[4] {
	case 2: // ELFCLASS64
		phoff, phentsize, phnum = le.Uint64(hdr[32:]), int(le.Uint16(hdr[54:])), int(le.Uint16(hdr[56:]))
	case 1: // ELFCLASS32
		phoff, phentsize, phnum = uint64(le.Uint32(hdr[28:])), int(le.Uint16(hdr[42:])), int(le.Uint16(hdr[44:]))
		minEntry = 32 // Elf32_Phdr
	default:
		return "", false
	}
	if phnum == 0 || phnum > 256 {
		return "", true
	}
	if phentsize < minEntry {
		return "", false // malformed: the kernel decides
	}
	// read returns size bytes at off, from hdr when it has them.
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	read := func(off, size uint64) ([]byte, bool) {
		if off+size <= uint64(len(hdr)) && off+size >= off {
			return hdr[off : off+size], true
		}
		if fd < 0 {
			var err error
			if fd, err = unix.Open(host, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return nil, false
			}
		}
		b := make([]byte, size)
		n, err := unix.Pread(fd, b, int64(off))
		return b, err == nil && n == len(b)
	}
	ph, ok := read(phoff, uint64(phentsize*phnum))
	if !ok {
		return "", false
	}
	for i := 0; i < phnum; i++ {
		e := ph[i*phentsize:]
		if le.Uint32(e) != 3 { // PT_INTERP
			continue
		}
		var off, size uint64
		if hdr[4] == 2 {
			off, size = le.Uint64(e[8:]), le.Uint64(e[32:])
		} else {
			off, size = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[16:]))
		}
		if size == 0 || size > unix.PathMax {
			return "", false
		}
		b, ok := read(off, size)
		if !ok {
			return "", false
		}
		return strings.TrimRight(string(b), "\x00"), true
	}
	return "", true
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
