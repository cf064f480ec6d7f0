package ptrace

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/ptrace/systable"
)

// probeHelper names the forked child in Probe's messages.
var probeHelper = &launch.Helper{Name: "traced process"}

// childPlan is everything the forked child does between fork and execve,
// prepared by the parent: the child only makes system calls with it
// (fork_unsafe.go). Its pointers keep what they point at alive until the
// fork; the child has its own copy from then on.
type childPlan struct {
	ppid uintptr
	// fds[i] becomes the child's fd i: a parent fd (close-on-exec, above
	// every i), fdAsIs (np's own stdio stays) or fdClose.
	fds    []int32
	sync   int32 // read end: EOF once the tracer seized the child
	syncW  int32 // the write end, which the child closes first
	status int32 // write end, close-on-exec: the marker, or a failure
	sock   int32 // the listener's way to the tracer; -1 without seccomp

	seccomp    bool
	notifyProg *unix.SockFprog // the filter, when notifications are wanted
	plainProg  *unix.SockFprog // the filter otherwise
	msg        *unix.Msghdr    // SCM_RIGHTS, its fd at ctrlFD
	ctrlFD     *int32
	root       *byte   // "/": the probe call's path (the filter knows the call by its systable.ProbeMark)
	taken      uint32  // set to 1 by the tracer once it took the listener
	atFDCWD    uintptr // AT_FDCWD as an argument

	probe     bool
	probeStat *byte // "/nix/."
	probeDir  *byte // "/nix/.np-probe-<pid>"
	stat      unix.Stat_t

	dir           *byte // nil: stay in np's directory
	file, sh      *byte
	argv, shArgv  []*byte
	envp, envpPWD []*byte // the environment, and with PWD=dir once in dir
	// cloexec are the ranges of fds close_range marks close-on-exec; open
	// lists the same fds one by one, open at fork, for kernels before
	// 5.11 (no CLOSE_RANGE_CLOEXEC; empty where the host has it).
	cloexec [][2]uintptr
	open    []int32

	buf [4]byte // what the child writes on the status pipe
}

const (
	fdAsIs  = -1
	fdClose = -2
)

// The child's failures on the status pipe: a code, then the errno (two
// bytes, little-endian). The marker alone means the program runs.
const statusMarker = launch.Marker

const (
	failStart = iota + 1
	failNoNewPrivs
	failFilter
	failNotifyFilter
	failSendListener
	failListenerNotTaken
	failProbeStat
	failProbeMkdir
	failProbeRmdir
	failExec
	failExecSh
)

// System call numbers and flags the child uses, as arguments.
const (
	sysSeccomp           = uintptr(unix.SYS_SECCOMP)
	sysCloseRange        = uintptr(unix.SYS_CLOSE_RANGE)
	closeRangeCloexec    = uintptr(unix.CLOSE_RANGE_CLOEXEC)
	unixPrSetNoNewPrivs  = uintptr(unix.PR_SET_NO_NEW_PRIVS)
	seccompSetModeFilter = uintptr(unix.SECCOMP_SET_MODE_FILTER)
	seccompModeFilter    = uintptr(unix.SECCOMP_MODE_FILTER)
	filterFlagListener   = uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	filterFlagKillable   = uintptr(unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	atRemoveDir          = uintptr(unix.AT_REMOVEDIR)
)

// errNotifyFilter: the filter with a notification listener was refused.
var errNotifyFilter = errors.New("installing the filter with a notification listener")

// filters caches the filters by notification level (under runMu).
var filters = map[systable.NotifyLevel]*unix.SockFprog{}

func filterProg(level systable.NotifyLevel) (*unix.SockFprog, error) {
	if p := filters[level]; p != nil {
		return p, nil
	}
	prog, err := systable.Filter(level, level > systable.NotifyNone)
	if err != nil {
		return nil, fmt.Errorf("building filter: %w", err)
	}
	p := &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	filters[level] = p
	return p, nil
}

// childStart is what the parent keeps of a child's start: the plan and
// the parent's copies of the child's fds, closed once the child runs.
type childStart struct {
	plan     *childPlan
	syncW    int // closed once the child is seized
	toClose  []int
	name     string // the program as given, for messages
	file     string // as looked up
	keepFDs  []int
	statusR  *os.File
	plumbing *proc.Plumbing
}

// closeChildEnds closes the parent's copies of the child's fds.
func (s *childStart) closeChildEnds() {
	for _, fd := range s.toClose {
		unix.Close(fd)
	}
	s.toClose = nil
	s.plumbing.CloseChildEnds()
}

// prepareChild builds the child's plan for spec. It looks the program up
// first, through the tracer's view of the files (as the program will see
// them): a *proc.LookupError comes back before anything starts.
func (t *tracer) prepareChild(spec *launch.Spec, p *proc.Plumbing, seccomp bool, level systable.NotifyLevel, probe bool, sock int) (*childStart, error) {
	c := &childPlan{ppid: uintptr(os.Getpid()), sock: -1, seccomp: seccomp, probe: probe}
	s := &childStart{plan: c, syncW: -1, plumbing: p}
	var err error
	defer func() {
		if err != nil {
			s.closeChildEnds()
			if s.syncW >= 0 {
				unix.Close(s.syncW)
			}
		}
	}()
	fdcwd := unix.AT_FDCWD
	c.atFDCWD = uintptr(fdcwd)
	if !probe {
		s.keepFDs = spec.PassFDs
		s.name = spec.Argv[0]
		if err = t.planProgram(c, spec); err != nil {
			return nil, err
		}
		if s.file, err = t.lookPath(spec); err != nil {
			return nil, err
		}
		if c.file, err = syscall.BytePtrFromString(s.file); err != nil {
			return nil, err
		}
	} else {
		c.probeStat, _ = syscall.BytePtrFromString("/nix/.")
		c.probeDir, _ = syscall.BytePtrFromString("/nix/.np-probe-" + strconv.Itoa(os.Getpid()))
	}

	// The child's fds 0..top: stdio, then the fds passed on purpose at
	// their numbers. Each source is first copied above top, so placing
	// one never overwrites another.
	stdin, stdout, stderr, serr := p.Stdio(spec.Stdin, spec.Stdout, spec.Stderr)
	if serr != nil {
		err = &launch.SetupError{Step: "connecting stdio", Err: serr}
		return nil, err
	}
	s.keepFDs = slices.Clone(s.keepFDs)
	slices.Sort(s.keepFDs)
	top := 2
	if n := len(s.keepFDs); n > 0 {
		top = max(top, s.keepFDs[n-1])
	}
	above := func(fd int) (int32, error) {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, top+1)
		if err != nil {
			return 0, err
		}
		s.toClose = append(s.toClose, d)
		return int32(d), nil
	}
	c.fds = make([]int32, top+1)
	for i := range c.fds {
		c.fds[i] = fdClose
	}
	for i, f := range []*os.File{stdin, stdout, stderr} {
		if f == [...]*os.File{os.Stdin, os.Stdout, os.Stderr}[i] {
			c.fds[i] = fdAsIs
			continue
		}
		if c.fds[i], err = above(int(f.Fd())); err != nil {
			err = &launch.SetupError{Step: "connecting stdio", Err: err}
			return nil, err
		}
	}
	for _, fd := range s.keepFDs {
		if c.fds[fd], err = above(fd); err != nil {
			err = &launch.SetupError{Step: "passing inherited fds", Err: fmt.Errorf("duplicating fd %d: %w", fd, err)}
			return nil, err
		}
	}
	keep := append([]int{0, 1, 2}, s.keepFDs...)
	for _, r := range proc.ExtraFDRanges(s.keepFDs) {
		c.cloexec = append(c.cloexec, [2]uintptr{uintptr(r[0]), uintptr(r[1])})
	}
	if !hostCallsHere().cloexecRange {
		if names, rerr := proc.OpenFDs(); rerr == nil {
			for _, fd := range names {
				if !slices.Contains(keep, fd) {
					c.open = append(c.open, int32(fd))
				}
			}
		}
	}

	statusR, statusW, perr := p.Pipe(false)
	if perr != nil {
		err = &launch.SetupError{Step: "creating status pipe", Err: perr}
		return nil, err
	}
	s.statusR = statusR
	if c.status, err = above(int(statusW.Fd())); err != nil {
		err = &launch.SetupError{Step: "creating status pipe", Err: err}
		return nil, err
	}
	var sp [2]int
	if perr := unix.Pipe2(sp[:], unix.O_CLOEXEC); perr != nil {
		err = &launch.SetupError{Step: "creating sync pipe", Err: perr}
		return nil, err
	}
	s.syncW = sp[1]
	c.syncW = int32(sp[1])
	s.toClose = append(s.toClose, sp[0])
	c.sync = int32(sp[0])
	if c.sync <= int32(top) {
		if c.sync, err = above(sp[0]); err != nil {
			err = &launch.SetupError{Step: "creating sync pipe", Err: err}
			return nil, err
		}
	}

	if seccomp {
		if c.sock, err = above(sock); err != nil {
			err = &launch.SetupError{Step: "creating the listener socket", Err: err}
			return nil, err
		}
		// One filter: building one costs about 0.1 ms. Where the one
		// with a listener is refused, Run starts again with the other.
		prog, perr := filterProg(level)
		if perr != nil {
			err = &launch.SetupError{Step: stepFilter, Err: perr}
			return nil, err
		}
		if level > systable.NotifyNone {
			c.notifyProg = prog
		} else {
			c.plainProg = prog
		}
		ctrl := unix.UnixRights(0)
		c.ctrlFD = (*int32)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
		iov := &unix.Iovec{Base: &c.buf[3]}
		iov.SetLen(1)
		c.msg = &unix.Msghdr{Iov: iov, Iovlen: 1, Control: &ctrl[0]}
		c.msg.SetControllen(len(ctrl))
	}
	c.root = &rootDir[0]
	return s, nil
}

// planProgram fills in the program's argv, environment and directory.
func (t *tracer) planProgram(c *childPlan, spec *launch.Spec) error {
	var err error
	if c.argv, err = syscall.SlicePtrFromStrings(spec.Argv); err != nil {
		return err
	}
	if c.envp, err = syscall.SlicePtrFromStrings(spec.Env); err != nil {
		return err
	}
	c.envpPWD = c.envp
	if spec.Dir != "" {
		if c.dir, err = syscall.BytePtrFromString(spec.Dir); err != nil {
			return err
		}
		if c.envpPWD, err = syscall.SlicePtrFromStrings(proc.SetEnv(spec.Env, "PWD", spec.Dir)); err != nil {
			return err
		}
	}
	return nil
}

// lookPath finds the program on the PATH as execvp does, as the program
// will see the files: each candidate is resolved in the guest view (a
// relative one from spec.Dir, where the child starts).
func (t *tracer) lookPath(spec *launch.Spec) (string, error) {
	path, ok := proc.Getenv(spec.Env, "PATH")
	if !ok {
		path = proc.DefaultPath
	}
	file, err := proc.LookPathVia(spec.Argv[0], path, func(file string) (string, error) {
		if file[0] != '/' && spec.Dir == "" {
			return file, nil // np's own directory, which the child keeps
		}
		res, errno := t.res.Resolve(spec.Dir, file, true)
		if errno != 0 {
			return "", errno
		}
		return t.res.HostPath(res), nil
	})
	if err != nil {
		return "", err
	}
	return file, nil
}

// childResult is how the child's start ended, from its status bytes and
// wait status (ws: the program's, once it ran), as launch.Result says for
// a helper.
func (s *childStart) result(st []byte, ws syscall.WaitStatus) (syscall.WaitStatus, error) {
	switch {
	case len(st) == 0 && ws.Signaled():
		return ws, nil
	case len(st) == 0:
		return 0, &launch.SetupError{Step: stepStart, Err: fmt.Errorf("%w: %s", errChildDied, proc.DescribeStatus(ws))}
	case st[0] == statusMarker && len(st) == 1:
		return ws, nil
	case st[0] == statusMarker:
		st = st[1:]
	}
	if len(st) < 3 {
		return 0, &launch.SetupError{Step: stepStart, Err: fmt.Errorf("unknown status %q", st)}
	}
	e := syscall.Errno(uint16(st[1]) | uint16(st[2])<<8)
	switch st[0] {
	case failNoNewPrivs:
		return 0, &launch.SetupError{Step: stepFilter, Err: fmt.Errorf("setting no_new_privs: %w", e)}
	case failFilter:
		return 0, &launch.SetupError{Step: stepFilter, Err: e}
	case failNotifyFilter:
		return 0, &launch.SetupError{Step: stepFilter, Err: fmt.Errorf("%w: %w", errNotifyFilter, e)}
	case failSendListener:
		return 0, &launch.SetupError{Step: stepFilter, Err: fmt.Errorf("sending the notification listener: %w", e)}
	case failListenerNotTaken:
		return 0, &launch.SetupError{Step: stepFilter, Err: errors.New("the tracer could not take the notification listener")}
	case failProbeStat:
		return 0, &launch.SetupError{Step: stepProbeCalls, Err: fmt.Errorf("stat /nix: %w", e)}
	case failProbeMkdir:
		return 0, &launch.SetupError{Step: stepProbeCalls, Err: fmt.Errorf("mkdir /nix/.np-probe: %w", e)}
	case failProbeRmdir:
		return 0, &launch.SetupError{Step: stepProbeCalls, Err: fmt.Errorf("rmdir /nix/.np-probe: %w", e)}
	case failExec:
		return 0, proc.ExecError(s.name, s.file, e)
	case failExecSh:
		return 0, proc.ExecError(s.name, s.file, e)
	}
	return 0, &launch.SetupError{Step: stepStart, Err: e}
}
