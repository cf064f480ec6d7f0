package ptrace

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/np-portable/np/ptrace/execplan"
	"github.com/np-portable/np/ptrace/guestpath"
	"golang.org/x/sys/unix"
)

// What the tracer keeps, in one file below every file that reads it: the
// tracer, its threads and processes (tracer.go's wait loop fills them in),
// an exec in flight, and the notification server's state, which points
// back at the tracer. Here too are the acts every stop handler ends with
// (ok, fail, succeed) and the two accessors the notification server calls
// under the tracer's lock, so that the handlers above depend on this file
// and it on nothing of theirs.

// process is what the tracer keeps per thread group (address space).
type process struct {
	// scratch is shared by the processes of one address space (vfork).
	scratch *scratch
	forks   int // children started, to decide on mapping scratch early
	// ownRoot: the process changed its root (chroot, pivot_root); its
	// paths are its own business now, and its children's too.
	ownRoot bool
	// otherNS: the process may be in a mount namespace other than np's
	// (it or an ancestor cloned, unshared or entered one). The
	// notification server, which makes calls in np's namespace, then
	// checks and reaches its files through /proc/<tid>/root (notify.go).
	// Only the tracer writes it, under mu.
	otherNS bool
	// rootOwed: fds of listings of / that have not had their "nix"
	// entry yet (emulate.go).
	rootOwed map[int]bool

	// exeGuest and exeHost are the program the process runs when the
	// tracer changed its exec. Started through its dynamic loader, the
	// kernel's /proc/<pid>/exe names the loader; started from its host
	// path, it names that path, not the guest's. Either way the tracer
	// answers readlink, open and execve of it from here, without asking
	// /proc (a lookup of a new process's directory there costs about as
	// much as the rest of the call).
	exeGuest, exeHost string
}

// exitWork says what the tracer must do at a thread's syscall-exit stop.
type exitWork uint8

const (
	exitNone        exitWork = iota
	exitRestore              // put the saved argument registers back
	exitGetdents             // add a "nix" entry to a listing of /
	exitSockname             // show a unix socket's guest path
	exitExecve               // restore if the exec failed
	exitScratch              // the scratch area is mapped: rerun the call
	exitForkReturn           // a fork returned in the parent: map scratch now
	exitInjectEnter          // the injected mmap's enter stop
	exitInjectDone           // the injected mmap's exit stop
	exitNewRoot              // chroot or pivot_root: stop translating if it worked
	exitResult               // a call skipped at its enter stop: set its result (exitArg) again
)

// thread is the tracer's state of one tracee thread.
type thread struct {
	tid  int
	proc *process
	// fresh: no syscall stop seen yet (no-seccomp mode tells a new
	// child's first stop from its registers).
	fresh bool
	// inSyscall: no-seccomp mode, between the enter and the exit stop.
	inSyscall bool
	// skipEnter: old stop order (Linux < 4.8), the next syscall stop
	// after a seccomp stop is the enter stop, not the exit.
	skipEnter bool
	exit      exitWork
	regs      regs // at the current stop
	args      [6]uint64
	saved     regs   // at the enter stop, when exit != exitNone
	savedMask uint64 // the blocked signals, while forkReturned's mmap runs
	exitArg   uint64
	exec      *execPlan // the execve in flight
	slot      int       // its slot of the scratch area, -1: none yet
	chunk     int       // the chunk of the slot used last
}

// execPlan is an execve the tracer changed, kept until the exec event:
// the program the process will run (process.exeGuest/exeHost).
type execPlan struct {
	exeGuest, exeHost string
}

// tracer drives the traced tree.
type tracer struct {
	res   *guestpath.Resolver
	cache *guestpath.CachedFS // the resolver's view of the host, cached
	lk    lookup
	// ownNS is np's mount namespace, to which a tracee's is compared
	// (inOtherNS).
	ownNS    nsID
	mu       sync.Mutex // guards threads against the notification server
	seccomp  bool
	oldOrder bool
	probed   bool // the stop order is known (or irrelevant)
	threads  map[int]*thread
	parked   map[int]bool // new children stopped before their parent's fork event
	root     int
	rootWS   syscall.WaitStatus
	rootDone bool
	pathBuf  []byte
	sockets  sockDirs
	hostNix  bool // the host itself has /nix: no listing of / needs an entry
	headers  execplan.HeaderCache
	links    execplan.Links // names for programs run through a loader
	notifier *notifier
	// listenerSock is where the child sends its notification listener.
	listenerSock int
	stops        int // ptrace stops handled, for the debug log
	restores     int // of which exit stops to restore registers
	// server is the first notification server's thread, when one was
	// started for this run (serverThread).
	server *serverThread
	// orderByStop: the probe call's extra stop told the stop order.
	orderByStop bool
}

// notifier is the notification server's state (notify.go serves it).
type notifier struct {
	t      *tracer
	roots  rootListings
	fd     int
	stopR  int // read end of the stop pipe: readable once Run is done
	stopW  int
	wg     sync.WaitGroup
	served atomic.Int64 // notifications answered, for the debug log
	// servers is how many goroutines serve; with more than one, recvMu
	// makes checking for a pending notification and receiving it one
	// step (take).
	servers int
	recvMu  sync.Mutex
	// broken holds the first internal error of a server (a panic while
	// answering). The tracer checks it after every wait and ends the
	// traced tree: a call the server could not decide must never run
	// untranslated, where it would reach the wrong file.
	broken atomic.Pointer[error]
	// panicOn is panicEnv's value.
	panicOn string
}

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

// ok filters ptrace errors: ESRCH means the tracee was killed meanwhile
// (its exit is on the way); anything else breaks an invariant.
func (t *tracer) ok(th *thread, err error) error {
	if err == nil || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("tracing thread %d: %w", th.tid, err)
}

// fail makes the current call return -errno (0: return 0) without
// running it.
func (t *tracer) fail(th *thread, errno unix.Errno) error {
	return t.succeed(th, -int64(errno))
}

// succeed makes the current call return v without running it.
func (t *tracer) succeed(th *thread, v int64) error {
	r := &th.regs
	setNr(r, -1)
	setResult(r, v)
	th.exit = exitNone
	if !t.seccomp {
		// At an enter stop (no filter of ours) the call is not over:
		// since Linux 4.8 the seccomp filters of the host run after the
		// tracer and see the -1, and a container engine's profile
		// answers it with its own errno (Docker's and Podman's: ENOSYS),
		// overwriting v. A seccomp stop's -1 is never filtered again.
		th.exit = exitResult
		th.exitArg = uint64(v)
	}
	return t.ok(th, setRegs(th.tid, r))
}

// rootAndNSOf reports whether tid is known and its process's ownRoot and
// otherNS, read under t.mu: the tracer sets them at a stop while the
// notification server answers the same process's calls. Safe from any
// goroutine.
func (t *tracer) rootAndNSOf(tid int) (known, ownRoot, otherNS bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th := t.threads[tid]
	if th == nil {
		return false, false, false
	}
	return true, th.proc.ownRoot, th.proc.otherNS
}

// procOf returns the process of tid (nil if unknown). Safe from any
// goroutine.
func (t *tracer) procOf(tid int) *process {
	t.mu.Lock()
	defer t.mu.Unlock()
	if th := t.threads[tid]; th != nil {
		return th.proc
	}
	return nil
}
