package ptrace

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/np-portable/np/ptrace/systable"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// hostCalls says which of the calls the tracer uses beyond ptrace, wait4
// and plain file calls this host lets np make. A container's seccomp
// profile refuses some of them (Docker's default refuses
// process_vm_readv/writev and pidfd_getfd without CAP_SYS_PTRACE, and
// unshare whatever its flags), older kernels lack others. Each has a
// fallback, and the tracer picks them once, from what np itself may do:
// the traced program runs under the same filters (seccomp filters are
// inherited), so np's own answers are the program's.
type hostCalls struct {
	// listener: seccomp user notifications (SECCOMP_FILTER_FLAG_NEW_LISTENER,
	// Linux 5.0). Without them (CentOS 7's 3.10, 4.4) every filtered call
	// is a ptrace stop whatever the other calls allow.
	listener   bool
	vmRW       bool // process_vm_readv/writev (Linux 3.2)
	procMem    bool // /proc/<pid>/mem opens
	pidfdGetfd bool // pidfd_open + pidfd_getfd (Linux 5.6)
	closeRange bool // close_range (Linux 5.9, the release of SECCOMP_IOCTL_NOTIF_ADDFD)
	ownFS      bool // unshare(CLONE_FS) on a thread
	// killableRecv: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19).
	// Without it a signal interrupts a caller waiting for the server and
	// its call restarts as a new notification, while the server's open
	// for the first one goes on: a FIFO open (under /nix) then leaves the
	// server's open behind as a phantom peer, which meets the real one,
	// and the restarted open waits forever (seen on Debian 11's 5.10).
	killableRecv bool

	// cloexecRange: close_range's CLOSE_RANGE_CLOEXEC (Linux 5.11). With
	// it the forked child marks the fds the program must not get in one
	// call, and the parent need not list its open fds for it (a fallback
	// of one fcntl each).
	cloexecRange bool
}

// memMethod is how the tracer reaches a tracee's memory.
type memMethod uint8

const (
	memVM   memMethod = iota // process_vm_readv/writev: any thread, one call
	memFile                  // pread/pwrite of /proc/<pid>/mem: any thread
	memPeek                  // PTRACE_PEEKDATA/POKEDATA: ptrace-stopped threads only, a word a call
)

func (m memMethod) String() string {
	return [...]string{"process_vm", "/proc/pid/mem", "ptrace peek/poke"}[m]
}

func (h hostCalls) mem() memMethod {
	switch {
	case h.vmRW:
		return memVM
	case h.procMem:
		return memFile
	}
	return memPeek
}

// notify is the notification level this host allows:
//   - none when memory is reachable only from a ptrace stop (the server
//     answers callers that are not stopped) or when the server could not
//     install fds and only reads are possible without close_range's kernel;
//   - reads (stat, access, readlink) without ADDFD, without a file-system
//     context of its own (it could not make files with the caller's umask)
//     or without killable waits (an open it made could outlive its caller's
//     call; opens are then ptrace stops, where the caller opens for itself);
//   - opens, removals and the other redone calls, but not listings of /
//     (those need the caller's own open file, pidfd_getfd);
//   - listings: everything.
//
// The listener itself reaches the tracer over a socket (SCM_RIGHTS), which
// no profile refuses.
func (h hostCalls) notify() systable.NotifyLevel {
	switch {
	case !h.listener || h.mem() == memPeek:
		return systable.NotifyNone
	case !h.closeRange || !h.ownFS || !h.killableRecv:
		return systable.NotifyReads
	case !h.pidfdGetfd:
		return systable.NotifyOpens
	}
	return systable.NotifyListings
}

func (h hostCalls) String() string {
	var refused []string
	for _, c := range []struct {
		ok   bool
		name string
	}{{h.listener, "seccomp user notifications"}, {h.vmRW, "process_vm_readv"}, {h.procMem, "/proc/pid/mem"}, {h.pidfdGetfd, "pidfd_getfd"},
		{h.closeRange, "close_range"}, {h.ownFS, "unshare(CLONE_FS)"},
		{h.killableRecv, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}} {
		if !c.ok {
			refused = append(refused, c.name)
		}
	}
	if len(refused) == 0 {
		refused = []string{"none"}
	}
	return fmt.Sprintf("refused: %s; memory via %s, notifications: %s", strings.Join(refused, ", "), h.mem(), h.notify())
}

var (
	hostOnce sync.Once
	hostHere hostCalls
	// hostForTests, when set, replaces the probe's answer: tests run the
	// fallbacks on a host that offers everything.
	hostForTests *hostCalls
)

// hostCallsHere probes once per process.
func hostCallsHere() hostCalls {
	if hostForTests != nil {
		return *hostForTests
	}
	hostOnce.Do(func() {
		hostHere = probeHostCalls()
		logrus.Debugf("ptrace: host calls: %s", hostHere)
	})
	return hostHere
}

func probeHostCalls() hostCalls {
	var h hostCalls
	self := os.Getpid()

	var src, dst [8]byte
	src[0] = 1
	local := []unix.Iovec{{Base: &dst[0]}}
	local[0].SetLen(len(dst))
	remote := []unix.RemoteIovec{{Base: uintptrOf(&src[0]), Len: len(src)}}
	n, err := unix.ProcessVMReadv(self, local, remote, 0)
	h.vmRW = err == nil && n == len(dst) && dst[0] == 1
	runtime.KeepAlive(&src)

	if fd, err := unix.Open(procMemPath(self), unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		h.procMem = true
	}

	if pidfd, err := unix.PidfdOpen(self, 0); err == nil {
		if fd, err := unix.PidfdGetfd(pidfd, pidfd, 0); err == nil {
			unix.Close(fd)
			h.pidfdGetfd = true
		}
		unix.Close(pidfd)
	}

	// An fd range beyond any real one: closes nothing.
	h.closeRange = unix.CloseRange(^uint(0)-1, ^uint(0)-1, 0) == nil
	h.cloexecRange = unix.CloseRange(^uint(0)-1, ^uint(0)-1, unix.CLOSE_RANGE_CLOEXEC) == nil

	// Not tried here: Run learns it from the notification server's own
	// thread (serverThread), Diagnose from probeOwnFS.
	h.ownFS = true

	// The flag is checked before the program is read: EFAULT for the
	// missing program means it is known, EINVAL that it is not. Nothing
	// is installed either way.
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 0)
	h.killableRecv = errno == unix.EFAULT
	// The same for the listener itself: doctor said "notifications:
	// reads" on 4.4.178 and CentOS 7's 3.10, which have none (EINVAL; no
	// seccomp(2) at all before 3.17: ENOSYS).
	_, _, errno = unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, 0)
	h.listener = errno == unix.EFAULT
	return h
}

func procMemPath(pid int) string { return "/proc/" + itoa(pid) + "/mem" }

// callerFD copies fd of process tgid into this one (pidfd_getfd). Where
// that is refused, it opens what the fd names (O_PATH), which serves as
// the directory of an *at call; listings, which need the caller's own
// file offset, are never notified then (hostCalls.notify).
func callerFD(tgid, fd int) (int, error) {
	if !hostCallsHere().pidfdGetfd {
		return unix.Open("/proc/"+itoa(tgid)+"/fd/"+itoa(fd), unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	pidfd, err := unix.PidfdOpen(tgid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}
