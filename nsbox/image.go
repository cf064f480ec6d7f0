package nsbox

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// initImage is everything the forked init (fork_unsafe.go) needs, laid out by
// Run before the fork: every path and string NUL-terminated in one arena,
// addresses as uintptr, buffers for the init's calls. The init has no Go
// runtime of its own (it is a fork of np that never execs np): it reads
// the image and writes only its number and byte fields, never a pointer,
// and allocates nothing.
type initImage struct {
	arena []byte // every string; offset 0 is a NUL that stands for NULL

	// The user namespace's files and what to write in them.
	setgroupsPath, uidMapPath, gidMapPath uintptr
	deny, uidLine, gidLine                text

	// fds[i] is the parent's fd that becomes fd i of the init (-1: none);
	// statusFD is the status pipe's number in the init (close-on-exec).
	fds      []int32
	statusFD int32

	// ops is the plan (flattened: a pivot_root's fallback follows the
	// main list); nMain of them are the main list.
	ops   []rawOp
	nMain int32

	dot       uintptr // "."
	dir       uintptr // the working directory by name, 0 if none
	dirInNix  bool    // dir is /nix or under it
	probe     bool
	sigMask   uint64 // the signals the init forwards, plus SIGCHLD
	pipeMask  uint64 // SIGPIPE alone: blocked in the init, not in the program
	ttyPath   uintptr
	fdDirPath uintptr // /proc/self/fd, for old kernels' fd closing
	procPath  uintptr // /proc, for old kernels' children
	// scanChildren: find the init's children from /proc/*/stat even
	// where the kernel lists them (tests only).
	scanChildren bool

	// The program: execve(cand[file], argv, env or envPWD); a file
	// without a #! line or ELF header runs as shArgv with shArgv[1] the
	// file, as execvp does.
	nameEmpty, nameHasSlash    bool
	cand                       []uintptr
	argv, env, envPWD          uintptr // addresses of NULL-terminated arrays
	argvArr, envArr, envPWDArr []uintptr
	shArgv                     []uintptr
	shPath                     uintptr

	// Scratch space the init's calls write into.
	stat       unix.Stat_t
	capHdr     [2]uint32 // version, pid
	capData    [6]uint32 // two __user_cap_data_struct
	oldMask    uint64
	pgrp       int32
	wstatus    int32
	errnoBuf   [4]byte
	pipe       [2]int32
	record     [16]byte
	polls      [2]pollFd
	sigact     [4]uint64 // a struct sigaction: SIG_DFL, no flags
	rlimit     [2]uint64 // RLIMIT_CORE 0
	path       [64]byte  // the children file's path: pathPrefix bytes of it are set
	pathPrefix int
	path2      [64]byte   // a /proc/PID/stat path, where the kernel has no children lists
	statBuf    [1024]byte // its text
	marker     [1]byte
	zeroTime   [2]int64 // a timespec of 0
	unblock    uint64
	buf        [4096]byte
}

// text is a string in the arena: its address and length (no NUL).
type text struct {
	addr, len uintptr
}

// pollFd is struct pollfd.
type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// rawOp is one op of the plan for the init: its strings as addresses.
type rawOp struct {
	kind       opKind
	a, b, c, d uintptr // mount(source, target, fstype, data); symlink and pivot_root (source, target); the others (target)
	flags      uintptr
	skipIfGone bool
	// fallback, fallbackEnd: a pivot_root's fallback is ops[fallback:fallbackEnd] (0: none).
	fallback, fallbackEnd int32
}

// arena collects NUL-terminated strings; addresses are fixed once done.
type arena struct {
	buf   []byte
	fixes []*uintptr
}

// str adds s and makes *dst its address once done.
func (a *arena) str(s string, dst *uintptr) error {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%q contains a NUL byte", s)
		}
	}
	*dst = uintptr(len(a.buf))
	a.buf = append(a.buf, s...)
	a.buf = append(a.buf, 0)
	a.fixes = append(a.fixes, dst)
	return nil
}

func (a *arena) text(s string, dst *text) error {
	dst.len = uintptr(len(s))
	return a.str(s, &dst.addr)
}

// strs adds every string of list and makes arr a NULL-terminated array of
// their addresses.
func (a *arena) strs(list []string, arr *[]uintptr) error {
	*arr = make([]uintptr, len(list)+1)
	for i, s := range list {
		if err := a.str(s, &(*arr)[i]); err != nil {
			return err
		}
	}
	return nil
}

// done turns every offset into an address; the arena must not grow after.
func (a *arena) done() []byte {
	base := bytesAddr(a.buf)
	for _, p := range a.fixes {
		*p += base
	}
	return a.buf
}

// newImage lays out the init's work for r: ops (the whole plan), the fds
// (stdio, then launch's files at 3 on) and the program.
func newImage(r *launch.Request, ops []op, stdio [3]*os.File, extra []*os.File) (*initImage, error) {
	img := &initImage{}
	a := &arena{buf: make([]byte, 1, 8192)}
	var err error
	note := func(e error) { // the first error is the one returned
		if err == nil {
			err = e
		}
	}
	uid, gid := os.Geteuid(), os.Getegid()
	note(a.str("/proc/self/setgroups", &img.setgroupsPath))
	note(a.str("/proc/self/uid_map", &img.uidMapPath))
	note(a.str("/proc/self/gid_map", &img.gidMapPath))
	note(a.text("deny", &img.deny))
	// The caller's own ids, so files keep their owners.
	note(a.text(strconv.Itoa(uid)+" "+strconv.Itoa(uid)+" 1\n", &img.uidLine))
	note(a.text(strconv.Itoa(gid)+" "+strconv.Itoa(gid)+" 1\n", &img.gidLine))

	img.fds = make([]int32, 3+len(extra))
	for i := range img.fds {
		var f *os.File
		if i < 3 {
			f = stdio[i]
		} else {
			f = extra[i-3]
		}
		img.fds[i] = -1
		if f != nil {
			img.fds[i] = int32(f.Fd())
		}
	}
	img.statusFD = int32(len(img.fds) - 1)

	flat := flatten(ops)
	img.nMain = int32(len(ops))
	img.ops = make([]rawOp, len(flat))
	for i := range flat {
		o, ro := &flat[i].op, &img.ops[i]
		ro.kind, ro.flags, ro.skipIfGone = o.Kind, o.Flags, o.SkipIfGone
		ro.fallback, ro.fallbackEnd = flat[i].fallback, flat[i].fallbackEnd
		switch o.Kind {
		case opMount:
			note(a.str(o.Source, &ro.a))
			note(a.str(o.Target, &ro.b))
			if o.FSType != "" {
				note(a.str(o.FSType, &ro.c))
			}
			if o.Data != "" {
				note(a.str(o.Data, &ro.d))
			}
		case opSymlink, opPivotRoot:
			note(a.str(o.Source, &ro.a))
			note(a.str(o.Target, &ro.b))
		default:
			note(a.str(o.Target, &ro.a))
		}
	}

	note(a.str(".", &img.dot))
	if r.Dir != "" {
		note(a.str(r.Dir, &img.dir))
		img.dirInNix = r.Dir == "/nix" || len(r.Dir) > 5 && r.Dir[:5] == "/nix/"
	}
	img.probe = r.Probe
	for _, sig := range proc.Forwarded() {
		img.sigMask |= 1 << (uint(sig) - 1)
	}
	img.sigMask |= 1 << (uint(unix.SIGCHLD) - 1)
	img.pipeMask = 1 << (uint(unix.SIGPIPE) - 1)
	note(a.str("/dev/tty", &img.ttyPath))
	note(a.str("/proc/self/fd", &img.fdDirPath))
	note(a.str("/proc", &img.procPath))
	img.pathPrefix = copy(img.path[:], "/proc/self/task/")
	img.marker[0] = launch.Marker
	img.capHdr[0] = unix.LINUX_CAPABILITY_VERSION_3

	if !r.Probe {
		name := r.Argv[0]
		img.nameEmpty = name == ""
		for i := 0; i < len(name); i++ {
			img.nameHasSlash = img.nameHasSlash || name[i] == '/'
		}
		cands := candidates(name, r.Env)
		img.cand = make([]uintptr, len(cands))
		for i, c := range cands {
			note(a.str(c, &img.cand[i]))
		}
		note(a.strs(r.Argv, &img.argvArr))
		note(a.strs(r.Env, &img.envArr))
		img.envPWDArr = img.envArr
		if r.Dir != "" {
			note(a.strs(proc.SetEnv(r.Env, "PWD", r.Dir), &img.envPWDArr))
		}
		note(a.str("/bin/sh", &img.shPath))
		img.shArgv = make([]uintptr, len(r.Argv)+2)
		img.shArgv[0] = img.shPath // fixed up below with the others
		a.fixes = append(a.fixes, &img.shArgv[0])
		for i, s := range r.Argv[1:] {
			note(a.str(s, &img.shArgv[2+i]))
		}
	}
	if err != nil {
		return nil, err
	}
	img.arena = a.done()
	if !r.Probe {
		img.argv = wordsAddr(img.argvArr)
		img.env = wordsAddr(img.envArr)
		img.envPWD = wordsAddr(img.envPWDArr)
	}
	return img, nil
}

// flatOp is an op of the flattened plan: a pivot_root's fallback ops follow
// the main list, and it names their range.
type flatOp struct {
	op
	fallback, fallbackEnd int32
}

func flatten(ops []op) []flatOp {
	flat := make([]flatOp, len(ops), len(ops)+8)
	for i, o := range ops {
		flat[i].op = o
		if len(o.Fallback) > 0 {
			flat[i].fallback = int32(len(flat))
			for _, f := range o.Fallback {
				flat = append(flat, flatOp{op: f})
			}
			flat[i].fallbackEnd = int32(len(flat))
		}
	}
	return flat
}

// candidates are the files execvp would try for name on env's PATH, in
// order (see proc.LookPath): name itself when it holds a slash.
func candidates(name string, env []string) []string {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return []string{name}
		}
	}
	path, ok := proc.Getenv(env, "PATH")
	if !ok {
		path = proc.DefaultPath
	}
	var out []string
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != ':' {
			continue
		}
		dir := path[start:i]
		if dir == "" {
			dir = "."
		}
		out = append(out, dir+"/"+name)
		start = i + 1
	}
	return out
}

// The init's failure records on the status pipe: four little-endian
// uint32s, kind first (never launch.Marker), then by kind:
const (
	failOp      = 1 + iota // op index, errno: the op failed
	failRemove             // op index, errno: removing the mount point of a vanished host entry failed
	failStep               // step (steps), errno
	failWorkDir            // reason (workDirReasons), errno
	failLookup             // lookup result, errno, candidate index
)

// The steps of failStep.
const (
	stepMaps = iota
	stepFDs
	stepCaps
	stepReaper
	stepSignals
	stepStart
	stepExecPipe
)

var steps = []struct{ step, call string }{
	stepMaps:     {stepCreate, ""},
	stepFDs:      {"starting sandbox init", "placing fds"},
	stepCaps:     {"dropping capabilities", "capset"},
	stepReaper:   {"becoming the program's reaper", "prctl PR_SET_CHILD_SUBREAPER"},
	stepSignals:  {"catching signals", "signalfd"},
	stepStart:    {"starting the program", "fork"},
	stepExecPipe: {"starting the program", "pipe2"},
}

// The reasons of failWorkDir.
const (
	wdUnreachable = 1 + iota // the name leads nowhere and np's directory cannot be reached
	wdFchdir
	wdHidden // under /nix the name leads to another directory
	wdStat
	wdFstat
	wdNoCwd // under /nix, and np's directory cannot be reached to compare
)

// The results of failLookup.
const (
	lookNotFound = 1 + iota
	lookNotExec  // cand[index] exists but cannot run: errno says why
	lookExec     // execve of cand[index] failed with errno
)

// decode turns the init's failure record into Run's error.
func (img *initImage) decode(r *launch.Request, ops []op, b []byte) error {
	if len(b) != 16 {
		return &launch.SetupError{Step: "reading sandbox init status", Err: fmt.Errorf("a record of %d bytes (%q)", len(b), b)}
	}
	kind, x := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	errno := syscall.Errno(binary.LittleEndian.Uint32(b[8:]))
	idx := int(binary.LittleEndian.Uint32(b[12:]))
	flat := flatten(ops)
	switch {
	case (kind == failOp || kind == failRemove) && int(x) < len(flat):
		o := flat[x].op
		if kind == failRemove {
			return &launch.SetupError{Step: o.Step, Path: o.Path, Err: &os.PathError{Op: "remove", Path: o.Target, Err: errno}}
		}
		return &launch.SetupError{Step: o.Step, Path: o.Path, Err: o.opError(errno)}
	case kind == failStep && int(x) < len(steps):
		s := steps[x]
		if s.call == "" {
			return &launch.SetupError{Step: s.step, Err: errno}
		}
		return &launch.SetupError{Step: s.step, Err: os.NewSyscallError(s.call, errno)}
	case kind == failWorkDir:
		reason := map[uint32]string{
			wdUnreachable: "it cannot be reached",
			wdFchdir:      "fchdir: " + errno.Error(),
			wdHidden:      "np's /nix hides the host's /nix there",
			wdStat:        "stat: " + errno.Error(),
			wdFstat:       "fstat: " + errno.Error(),
			wdNoCwd:       "the caller's directory cannot be reached",
		}[x]
		if reason != "" {
			return &WorkDirError{Dir: r.Dir, Reason: reason}
		}
	case kind == failLookup && !r.Probe:
		name := r.Argv[0]
		cands := candidates(name, r.Env)
		switch {
		case x == lookNotFound:
			return &proc.LookupError{Name: name, Err: proc.ErrNotFound}
		case idx >= len(cands):
		case x == lookNotExec:
			return &proc.LookupError{Name: name, File: cands[idx], Reason: errno.Error(), Err: proc.ErrNotExecutable}
		case x == lookExec && errno == unix.ENOENT:
			// The file exists (the lookup saw it), so its interpreter or
			// ELF loader does not; shells say 127 here.
			return &proc.LookupError{Name: name, File: cands[idx],
				Reason: errno.Error() + " (missing interpreter or dynamic loader?)", Err: proc.ErrNotFound}
		case x == lookExec:
			return &proc.LookupError{Name: name, File: cands[idx], Reason: errno.Error(), Err: proc.ErrNotExecutable}
		}
	}
	return &launch.SetupError{Step: "reading sandbox init status", Err: fmt.Errorf("an unknown record %q", b)}
}
