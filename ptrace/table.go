package ptrace

import (
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sys/unix"
)

// The syscall table: what the tracer does with each system call it stops
// for. It is the one source of truth: the seccomp filter traps exactly the
// calls listed here (and refuses the ones marked refuse), and the
// dispatcher handles exactly those. Names are the kernel's; the numbers of
// each architecture are in its archTable (table_x86_64.go, table_aarch64.go).

// action says which handler a stop goes to.
type action uint8

const (
	actPaths     action = iota + 1 // translate the path arguments
	actExecve                      // plan the exec in the tracer (execve.go)
	actExecveat                    // execveat: like execve for AT_FDCWD, else ENOSYS
	actReadlink                    // translate the path, emulate /proc links
	actGetcwd                      // the guest path of the cwd
	actGetdents                    // inject a "nix" entry when listing /
	actSockaddr                    // bind/connect/sendto with a unix socket address
	actSockname                    // getsockname/getpeername: the guest path on exit
	actPrctl                       // PR_SET_DUMPABLE 0 is made a no-op
	actNamespace                   // unshare/setns: may enter another mount namespace
	actRefuse                      // refused with ENOSYS by the filter itself
)

// follow says whether the last component of a path is followed when it is
// a symlink.
type follow uint8

const (
	followYes         follow = iota // always
	followNo                        // never (lstat, unlink, mkdir...)
	followUnlessAtNF                // unless AT_SYMLINK_NOFOLLOW in flags
	followIfAtFollow                // only with AT_SYMLINK_FOLLOW in flags
	followOpenFlags                 // unless O_NOFOLLOW or O_CREAT|O_EXCL in flags
	followOpenHow                   // openat2: the flags of struct open_how
	followUnlessInDF                // inotify: unless IN_DONT_FOLLOW
	followUnlessFanDF               // fanotify: unless FAN_MARK_DONT_FOLLOW
)

// pathArg is one path argument: the register holding the pointer, the one
// holding its dirfd (-1: relative paths are relative to the cwd), and
// whether its last component is followed.
type pathArg struct {
	arg, dirfd int8
	follow     follow
}

// sysInfo is one row of the table.
type sysInfo struct {
	name  string
	act   action
	paths []pathArg
	// flags is the register of the flags that follow and emptyPath look
	// at; -1 if none.
	flags int8
	// emptyPath: "" with AT_EMPTY_PATH in flags means the dirfd itself.
	emptyPath bool
	// nullPath: a NULL path means the dirfd itself (utimensat, fanotify).
	nullPath bool
	// cache says what the call does to the tracer's cache of host paths.
	cache cacheEffect
	// notify: the call only reads (a stat, access or readlink), so the
	// notification server may answer it (notify.go), and aux is the
	// register of its result buffer (of its mode, for access).
	notify notifyKind
	aux    int8
	// nonNull (1+register): the filter traps the call only when that
	// argument is not NULL (send is sendto without an address).
	nonNull int8
	// newRoot: once it succeeds, the process sees another tree (a build
	// sandbox pivoted into its chroot): the tracer stops translating it.
	newRoot bool
	// For notifyRedo: umask, the call's mode is subject to the umask;
	// in (1+register), an input the call reads from memory, inSize bytes
	// of it (0: a C string), which the server copies.
	umask  bool
	in     int8
	inSize int16
	// out (1+register), a buffer the call writes its result into, of
	// the size in register outSize-1; the server copies the result back.
	out, outSize int8
}

// notifyKind says how the notification server answers a call.
type notifyKind uint8

const (
	viaPtrace notifyKind = iota
	notifyStat
	notifyStatx
	notifyAccess
	notifyReadlink
	notifyStatfs
	notifyGetcwd // no path: the cwd's guest path
	// notifyOpen: opens but O_PATH ones (the filter sends those to
	// ptrace); the server opens the host path itself and installs the
	// fd in the caller (Linux >= 5.9).
	notifyOpen
	// notifyUnlink (unlink, unlinkat) and notifyRmdir: the server forgets
	// the name in the lookup cache and removes the host path itself when
	// it differs.
	notifyUnlink
	notifyRmdir
	// notifyGetdents: getdents64; the server lets it through unless the
	// directory is /, which it reads itself (through a copy of the
	// caller's fd, pidfd_getfd: so at notifyListings only) to add "nix".
	notifyGetdents
	// notifyRedo: calls that make, move or change names (mkdir, rename,
	// link, symlink, chmod, chown, truncate, utimes...) or read extended
	// attributes. The server lets one through when no path changes, and
	// otherwise makes the same call itself on the host paths (redo.go).
	notifyRedo
)

// needsOpens: the kinds the server can answer only where it can also
// install and take fds (notifyOpens).
func (k notifyKind) needsOpens() bool {
	return k == notifyOpen || k == notifyGetdents || k == notifyRedo
}

// openOnPtrace are the open flags that keep an open on ptrace: O_PATH,
// because the notification server hands fds over with
// SECCOMP_IOCTL_NOTIF_ADDFD, whose kernel side takes its source fd with
// fget(), which refuses O_PATH files (EBADF; libarchive opens directories
// that way, as Nix's channel unpacking showed). Opens that create go to
// the server: it lets most through, and makes the others with the
// caller's umask (notifier.create).
const openOnPtrace = unix.O_PATH

// cacheEffect: which calls change what a cached lookup would say.
type cacheEffect uint8

const (
	cacheKeep      cacheEffect = iota
	cacheForget                // removes or replaces the names it is given
	cacheForgetAll             // changes the tree (mount, chroot)
)

func redo(si sysInfo) sysInfo { si.notify = notifyRedo; return si }
func redoUmask(si sysInfo) sysInfo {
	si.umask = true
	return redo(si)
}
func redoIn(si sysInfo, reg int8, size int16) sysInfo {
	si.in, si.inSize = reg+1, size
	return redo(si)
}
func redoOut(si sysInfo, reg, sizeReg int8) sysInfo {
	si.out, si.outSize = reg+1, sizeReg+1
	return si
}
func p(arg int8, f follow) pathArg          { return pathArg{arg: arg, dirfd: -1, follow: f} }
func pat(dirfd, arg int8, f follow) pathArg { return pathArg{arg: arg, dirfd: dirfd, follow: f} }
func paths(ps ...pathArg) []pathArg         { return ps }
func row(name string, ps ...pathArg) sysInfo {
	return sysInfo{name: name, act: actPaths, paths: ps, flags: -1}
}
func rowf(name string, flags int8, ps ...pathArg) sysInfo {
	return sysInfo{name: name, act: actPaths, paths: ps, flags: flags}
}

// table lists every system call the tracer stops for or refuses. A
// syscall missing from an archTable's numbers does not exist there.
var table = []sysInfo{
	// open and friends
	{name: "open", act: actPaths, paths: paths(p(0, followOpenFlags)), flags: 1, notify: notifyOpen},
	row("creat", p(0, followYes)),
	{name: "openat", act: actPaths, paths: paths(pat(0, 1, followOpenFlags)), flags: 2, notify: notifyOpen},
	rowf("openat2", 2, pat(0, 1, followOpenHow)),
	// stat family
	{name: "stat", act: actPaths, paths: paths(p(0, followYes)), flags: -1, notify: notifyStat, aux: 1},
	{name: "lstat", act: actPaths, paths: paths(p(0, followNo)), flags: -1, notify: notifyStat, aux: 1},
	{name: "newfstatat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 3, emptyPath: true, notify: notifyStat, aux: 2},
	{name: "statx", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 2, emptyPath: true, notify: notifyStatx, aux: 4},
	{name: "access", act: actPaths, paths: paths(p(0, followYes)), flags: -1, notify: notifyAccess, aux: 1},
	{name: "faccessat", act: actPaths, paths: paths(pat(0, 1, followYes)), flags: -1, notify: notifyAccess, aux: 2},
	{name: "faccessat2", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 3, emptyPath: true, notify: notifyAccess, aux: 2},
	{name: "readlink", act: actReadlink, paths: paths(p(0, followNo)), flags: -1, notify: notifyReadlink, aux: 1},
	{name: "readlinkat", act: actReadlink, paths: paths(pat(0, 1, followNo)), flags: -1, emptyPath: true, notify: notifyReadlink, aux: 2},
	// creating and removing names
	{name: "unlink", act: actPaths, paths: paths(p(0, followNo)), flags: -1, cache: cacheForget, notify: notifyUnlink},
	{name: "rmdir", act: actPaths, paths: paths(p(0, followNo)), flags: -1, cache: cacheForget, notify: notifyRmdir},
	{name: "unlinkat", act: actPaths, paths: paths(pat(0, 1, followNo)), flags: 2, cache: cacheForget, notify: notifyUnlink},
	redoUmask(row("mkdir", p(0, followNo))),
	redoUmask(row("mkdirat", pat(0, 1, followNo))),
	redoUmask(row("mknod", p(0, followNo))),
	redoUmask(row("mknodat", pat(0, 1, followNo))),
	redo(sysInfo{name: "rename", act: actPaths, paths: paths(p(0, followNo), p(1, followNo)), flags: -1, cache: cacheForget}),
	redo(sysInfo{name: "renameat", act: actPaths, paths: paths(pat(0, 1, followNo), pat(2, 3, followNo)), flags: -1, cache: cacheForget}),
	redo(sysInfo{name: "renameat2", act: actPaths, paths: paths(pat(0, 1, followNo), pat(2, 3, followNo)), flags: -1, cache: cacheForget}),
	redo(row("link", p(0, followNo), p(1, followNo))),
	redo(sysInfo{name: "linkat", act: actPaths, paths: paths(pat(0, 1, followIfAtFollow), pat(2, 3, followNo)), flags: 4, emptyPath: true}),
	// symlink's first argument is the link's contents: never translated.
	redoIn(row("symlink", p(1, followNo)), 0, 0),
	redoIn(row("symlinkat", pat(1, 2, followNo)), 0, 0),
	// attributes
	redo(row("chmod", p(0, followYes))),
	redo(row("fchmodat", pat(0, 1, followYes))),
	redo(sysInfo{name: "fchmodat2", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 3, emptyPath: true}),
	redo(row("chown", p(0, followYes))),
	redo(row("lchown", p(0, followNo))),
	redo(sysInfo{name: "fchownat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 4, emptyPath: true}),
	redo(row("truncate", p(0, followYes))),
	{name: "statfs", act: actPaths, paths: paths(p(0, followYes)), flags: -1, notify: notifyStatfs, aux: 1},
	redoIn(row("utime", p(0, followYes)), 1, 16),  // struct utimbuf
	redoIn(row("utimes", p(0, followYes)), 1, 32), // struct timeval[2]
	redoIn(sysInfo{name: "futimesat", act: actPaths, paths: paths(pat(0, 1, followYes)), flags: -1, nullPath: true}, 2, 32),
	redoIn(sysInfo{name: "utimensat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 3, emptyPath: true, nullPath: true}, 2, 32), // struct timespec[2]
	row("setxattr", p(0, followYes)),
	row("lsetxattr", p(0, followNo)),
	redoOut(redoIn(row("getxattr", p(0, followYes)), 1, 0), 2, 3),
	redoOut(redoIn(row("lgetxattr", p(0, followNo)), 1, 0), 2, 3),
	redoOut(redo(row("listxattr", p(0, followYes))), 1, 2),
	redoOut(redo(row("llistxattr", p(0, followNo))), 1, 2),
	row("removexattr", p(0, followYes)),
	row("lremovexattr", p(0, followNo)),
	{name: "setxattrat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 2, emptyPath: true},
	{name: "getxattrat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 2, emptyPath: true},
	{name: "listxattrat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 2, emptyPath: true},
	{name: "removexattrat", act: actPaths, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 2, emptyPath: true},
	// directories and processes
	row("chdir", p(0, followYes)),
	{name: "chroot", act: actPaths, paths: paths(p(0, followYes)), flags: -1, cache: cacheForgetAll, newRoot: true},
	{name: "getcwd", act: actGetcwd, flags: -1, notify: notifyGetcwd},
	{name: "execve", act: actExecve, paths: paths(p(0, followYes)), flags: -1},
	{name: "execveat", act: actExecveat, paths: paths(pat(0, 1, followUnlessAtNF)), flags: 4, emptyPath: true},
	{name: "getdents64", act: actGetdents, flags: -1, notify: notifyGetdents},
	{name: "prctl", act: actPrctl, flags: -1},
	// A process that may be in another mount namespace (Nix's build
	// sandbox) gets its notified calls' host paths through
	// /proc/<tid>/root (notify.go, otherNS).
	{name: "unshare", act: actNamespace, flags: -1},
	{name: "setns", act: actNamespace, flags: -1},
	// system administration (need privileges, translated all the same)
	row("acct", p(0, followYes)),
	row("swapon", p(0, followYes)),
	row("swapoff", p(0, followYes)),
	row("uselib", p(0, followYes)),
	// mount's source is a path for bind mounts; for others (a device, a
	// file system's name) the lookup leaves it alone.
	{name: "mount", act: actPaths, paths: paths(p(0, followYes), p(1, followYes)), flags: -1, cache: cacheForgetAll},
	{name: "umount2", act: actPaths, paths: paths(p(0, followNo)), flags: -1, cache: cacheForgetAll},
	{name: "pivot_root", act: actPaths, paths: paths(p(0, followYes), p(1, followYes)), flags: -1, cache: cacheForgetAll, newRoot: true},
	// watching and handles
	rowf("inotify_add_watch", 2, pat(-1, 1, followUnlessInDF)),
	{name: "fanotify_mark", act: actPaths, paths: paths(pat(3, 4, followUnlessFanDF)), flags: 1, nullPath: true},
	{name: "name_to_handle_at", act: actPaths, paths: paths(pat(0, 1, followIfAtFollow)), flags: 4, emptyPath: true},
	// unix sockets
	// aux is the register of the sockaddr; its length follows it.
	{name: "bind", act: actSockaddr, flags: -1, aux: 1},
	{name: "connect", act: actSockaddr, flags: -1, aux: 1},
	{name: "sendto", act: actSockaddr, flags: -1, aux: 4, nonNull: 1 + 4},
	{name: "getsockname", act: actSockname, flags: -1},
	{name: "getpeername", act: actSockname, flags: -1},
	// Refused with ENOSYS: their paths escape any translation (io_uring's
	// OPENAT and STATX ops never enter the syscall path; handles and the
	// new mount API take paths the tracer cannot see or map). Programs
	// fall back to the older calls.
	{name: "io_uring_setup", act: actRefuse},
	{name: "open_by_handle_at", act: actRefuse},
	{name: "open_tree", act: actRefuse},
	{name: "move_mount", act: actRefuse},
	{name: "fsopen", act: actRefuse},
	{name: "fsconfig", act: actRefuse},
	{name: "fsmount", act: actRefuse},
	{name: "fspick", act: actRefuse},
	{name: "mount_setattr", act: actRefuse},
	{name: "open_tree_attr", act: actRefuse},
	{name: "file_getattr", act: actRefuse},
	{name: "file_setattr", act: actRefuse},
}

// archTable is one architecture's side of the syscall table: its numbers
// and what its seccomp filter must know. Both architectures' data are
// compiled everywhere (table_x86_64.go, table_aarch64.go), so the table
// and the filter are checked for each on any build host; nativeArch is the
// one np runs on (table_<GOARCH>.go).
type archTable struct {
	name string
	// auditArch is seccomp_data.arch of native calls; auditArchCompat of
	// the 32-bit entry point, whose calls get ENOSYS: the tracer only
	// knows native calls.
	auditArch, auditArchCompat uint32
	// x32Bit marks x32 calls in the number (0: no such ABI); refused too.
	x32Bit uint32
	// maxKnownSyscall: numbers above it are refused with ENOSYS.
	maxKnownSyscall int
	// numbers are the calls of the table that exist here; absent, the
	// rows that have no call here.
	numbers map[string]int
	absent  map[string]bool
}

// byNr is the table indexed by this architecture's numbers. It and the
// arch tables are built on first use: maps built at package init cost every
// np process (np --version, the ns runtime's init, each helper) about 0.2 ms.
var byNr = sync.OnceValue(func() map[int]*sysInfo { return mustIndex(table, nativeArch()) })

// sysNumbers are the numbers of the native architecture, by name.
func sysNumbers() map[string]int { return nativeArch().numbers }

// index maps numbers to rows; every row must have a number or be listed in
// a.absent, and every number must have a row.
func (a *archTable) index(rows []sysInfo) (map[int]*sysInfo, error) {
	out := make(map[int]*sysInfo, len(rows))
	seen := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		if seen[r.name] {
			return nil, fmt.Errorf("syscall %s listed twice", r.name)
		}
		seen[r.name] = true
		nr, ok := a.numbers[r.name]
		if !ok {
			if a.absent[r.name] {
				continue
			}
			return nil, fmt.Errorf("syscall %s has no number on %s", r.name, a.name)
		}
		if a.absent[r.name] {
			return nil, fmt.Errorf("syscall %s has a number on %s but is listed as absent", r.name, a.name)
		}
		if nr > a.maxKnownSyscall {
			return nil, fmt.Errorf("syscall %s (%d) above %s's maxKnownSyscall %d", r.name, nr, a.name, a.maxKnownSyscall)
		}
		if other := out[nr]; other != nil {
			return nil, fmt.Errorf("syscalls %s and %s share number %d on %s", other.name, r.name, nr, a.name)
		}
		out[nr] = r
	}
	for name := range a.numbers {
		if !seen[name] {
			return nil, fmt.Errorf("syscall %s has a number on %s but no row", name, a.name)
		}
	}
	for name := range a.absent {
		if !seen[name] {
			return nil, fmt.Errorf("syscall %s is listed as absent on %s but has no row", name, a.name)
		}
	}
	return out, nil
}

func mustIndex(rows []sysInfo, a *archTable) map[int]*sysInfo {
	m, err := a.index(rows)
	if err != nil {
		panic("ptrace syscall table: " + err.Error()) // a programming error, caught by every test
	}
	return m
}

// tracedNumbers lists, sorted, the numbers the filter traps (RET_TRACE).
func tracedNumbers(nrs map[int]*sysInfo) []int {
	var out []int
	for nr, r := range nrs {
		if r.act != actRefuse {
			out = append(out, nr)
		}
	}
	sort.Ints(out)
	return out
}

// refusedNumbers lists, sorted, the numbers the filter refuses (ENOSYS).
func refusedNumbers(nrs map[int]*sysInfo) []int {
	var out []int
	for nr, r := range nrs {
		if r.act == actRefuse {
			out = append(out, nr)
		}
	}
	sort.Ints(out)
	return out
}
