package systable

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
// each architecture are in its Arch (table_x86_64.go, table_aarch64.go).

// Action says which handler a stop goes to.
type Action uint8

const (
	ActPaths     Action = iota + 1 // translate the path arguments
	ActExecve                      // plan the exec in the tracer (execve.go)
	ActExecveat                    // execveat: like execve for AT_FDCWD, else ENOSYS
	ActReadlink                    // translate the path, emulate /proc links
	ActGetcwd                      // the guest path of the cwd
	ActGetdents                    // inject a "nix" entry when listing /
	ActSockaddr                    // bind/connect/sendto with a unix socket address
	ActSockname                    // getsockname/getpeername: the guest path on exit
	ActPrctl                       // PR_SET_DUMPABLE 0 is made a no-op
	ActNamespace                   // unshare/setns: may enter another mount namespace
	ActRefuse                      // refused with ENOSYS by the filter itself
)

// Follow says whether the last component of a path is followed when it is
// a symlink.
type Follow uint8

const (
	FollowYes         Follow = iota // always
	FollowNo                        // never (lstat, unlink, mkdir...)
	FollowUnlessAtNF                // unless AT_SYMLINK_NOFOLLOW in flags
	FollowIfAtFollow                // only with AT_SYMLINK_FOLLOW in flags
	FollowOpenFlags                 // unless O_NOFOLLOW or O_CREAT|O_EXCL in flags
	FollowOpenHow                   // openat2: the flags of struct open_how
	FollowUnlessInDF                // inotify: unless IN_DONT_FOLLOW
	FollowUnlessFanDF               // fanotify: unless FAN_MARK_DONT_FOLLOW
)

// PathArg is one path argument: the register holding the pointer, the one
// holding its dirfd (-1: relative paths are relative to the cwd), and
// whether its last component is followed.
type PathArg struct {
	Arg, Dirfd int8
	Follow     Follow
}

// Info is one row of the Table.
type Info struct {
	Name  string
	Act   Action
	Paths []PathArg
	// Flags is the register of the flags that Follow and emptyPath look
	// at; -1 if none.
	Flags int8
	// EmptyPath: "" with AT_EMPTY_PATH in flags means the dirfd itself.
	EmptyPath bool
	// NullPath: a NULL path means the dirfd itself (utimensat, fanotify).
	NullPath bool
	// Cache says what the call does to the tracer's cache of host paths.
	Cache CacheEffect
	// Notify: the call only reads (a stat, access or readlink), so the
	// notification server may answer it (notify.go), and aux is the
	// register of its result buffer (of its mode, for access).
	Notify NotifyKind
	Aux    int8
	// NonNull (1+register): the filter traps the call only when that
	// argument is not NULL (send is sendto without an address).
	NonNull int8
	// NewRoot: once it succeeds, the process sees another tree (a build
	// sandbox pivoted into its chroot): the tracer stops translating it.
	NewRoot bool
	// For NotifyRedo: Umask, the call's mode is subject to the umask;
	// In (1+register), an input the call reads from memory, inSize bytes
	// of it (0: a C string), which the server copies.
	Umask  bool
	In     int8
	InSize int16
	// Out (1+register), a buffer the call writes its result into, of
	// the size in register outSize-1; the server copies the result back.
	Out, OutSize int8
}

// NotifyKind says how the notification server answers a call.
type NotifyKind uint8

const (
	ViaPtrace NotifyKind = iota
	NotifyStat
	NotifyStatx
	NotifyAccess
	NotifyReadlink
	NotifyStatfs
	NotifyGetcwd // no path: the cwd's guest path
	// NotifyOpen: opens but O_PATH ones (the filter sends those to
	// ptrace); the server opens the host path itself and installs the
	// fd in the caller (Linux >= 5.9).
	NotifyOpen
	// NotifyUnlink (unlink, unlinkat) and NotifyRmdir: the server forgets
	// the name in the lookup cache and removes the host path itself when
	// it differs.
	NotifyUnlink
	NotifyRmdir
	// NotifyGetdents: getdents64; the server lets it through unless the
	// directory is /, which it reads itself (through a copy of the
	// caller's fd, pidfd_getfd: so at NotifyListings only) to add "nix".
	NotifyGetdents
	// NotifyRedo: calls that make, move or change names (mkdir, rename,
	// link, symlink, chmod, chown, truncate, utimes...) or read extended
	// attributes. The server lets one through when no path changes, and
	// otherwise makes the same call itself on the host paths (redo.go).
	NotifyRedo
)

// needsOpens: the kinds the server can answer only where it can also
// install and take fds (NotifyOpens).
func (k NotifyKind) needsOpens() bool {
	return k == NotifyOpen || k == NotifyGetdents || k == NotifyRedo
}

// openOnPtrace are the open flags that keep an open on ptrace: O_PATH,
// because the notification server hands fds over with
// SECCOMP_IOCTL_NOTIF_ADDFD, whose kernel side takes its source fd with
// fget(), which refuses O_PATH files (EBADF; libarchive opens directories
// that way, as Nix's channel unpacking showed). Opens that create go to
// the server: it lets most through, and makes the others with the
// caller's umask (notifier.create).
const openOnPtrace = unix.O_PATH

// CacheEffect: which calls change what a cached lookup would say.
type CacheEffect uint8

const (
	CacheKeep      CacheEffect = iota
	CacheForget                // removes or replaces the names it is given
	CacheForgetAll             // changes the tree (mount, chroot)
)

func redo(si Info) Info { si.Notify = NotifyRedo; return si }
func redoUmask(si Info) Info {
	si.Umask = true
	return redo(si)
}
func redoIn(si Info, reg int8, size int16) Info {
	si.In, si.InSize = reg+1, size
	return redo(si)
}
func redoOut(si Info, reg, sizeReg int8) Info {
	si.Out, si.OutSize = reg+1, sizeReg+1
	return si
}
func p(arg int8, f Follow) PathArg          { return PathArg{Arg: arg, Dirfd: -1, Follow: f} }
func pat(dirfd, arg int8, f Follow) PathArg { return PathArg{Arg: arg, Dirfd: dirfd, Follow: f} }
func paths(ps ...PathArg) []PathArg         { return ps }
func row(name string, ps ...PathArg) Info {
	return Info{Name: name, Act: ActPaths, Paths: ps, Flags: -1}
}
func rowf(name string, flags int8, ps ...PathArg) Info {
	return Info{Name: name, Act: ActPaths, Paths: ps, Flags: flags}
}

// Table lists every system call the tracer stops for or refuses. A
// syscall missing from an Arch's numbers does not exist there. It is
// built on first use, like the rest of the package's data: np runs that
// never trace (np --version, a run under the namespace runtime) pay
// nothing for it at start. Callers must not change it.
func Table() []Info {
	table.once.Do(func() { table.rows = tableRows() })
	return table.rows
}

var table struct {
	once sync.Once
	rows []Info
}

func tableRows() []Info {
	return []Info{
		// open and friends
		{Name: "open", Act: ActPaths, Paths: paths(p(0, FollowOpenFlags)), Flags: 1, Notify: NotifyOpen},
		row("creat", p(0, FollowYes)),
		{Name: "openat", Act: ActPaths, Paths: paths(pat(0, 1, FollowOpenFlags)), Flags: 2, Notify: NotifyOpen},
		rowf("openat2", 2, pat(0, 1, FollowOpenHow)),
		// stat family
		{Name: "stat", Act: ActPaths, Paths: paths(p(0, FollowYes)), Flags: -1, Notify: NotifyStat, Aux: 1},
		{Name: "lstat", Act: ActPaths, Paths: paths(p(0, FollowNo)), Flags: -1, Notify: NotifyStat, Aux: 1},
		{Name: "newfstatat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 3, EmptyPath: true, Notify: NotifyStat, Aux: 2},
		{Name: "statx", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 2, EmptyPath: true, Notify: NotifyStatx, Aux: 4},
		{Name: "access", Act: ActPaths, Paths: paths(p(0, FollowYes)), Flags: -1, Notify: NotifyAccess, Aux: 1},
		{Name: "faccessat", Act: ActPaths, Paths: paths(pat(0, 1, FollowYes)), Flags: -1, Notify: NotifyAccess, Aux: 2},
		{Name: "faccessat2", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 3, EmptyPath: true, Notify: NotifyAccess, Aux: 2},
		{Name: "readlink", Act: ActReadlink, Paths: paths(p(0, FollowNo)), Flags: -1, Notify: NotifyReadlink, Aux: 1},
		{Name: "readlinkat", Act: ActReadlink, Paths: paths(pat(0, 1, FollowNo)), Flags: -1, EmptyPath: true, Notify: NotifyReadlink, Aux: 2},
		// creating and removing names
		{Name: "unlink", Act: ActPaths, Paths: paths(p(0, FollowNo)), Flags: -1, Cache: CacheForget, Notify: NotifyUnlink},
		{Name: "rmdir", Act: ActPaths, Paths: paths(p(0, FollowNo)), Flags: -1, Cache: CacheForget, Notify: NotifyRmdir},
		{Name: "unlinkat", Act: ActPaths, Paths: paths(pat(0, 1, FollowNo)), Flags: 2, Cache: CacheForget, Notify: NotifyUnlink},
		redoUmask(row("mkdir", p(0, FollowNo))),
		redoUmask(row("mkdirat", pat(0, 1, FollowNo))),
		redoUmask(row("mknod", p(0, FollowNo))),
		redoUmask(row("mknodat", pat(0, 1, FollowNo))),
		redo(Info{Name: "rename", Act: ActPaths, Paths: paths(p(0, FollowNo), p(1, FollowNo)), Flags: -1, Cache: CacheForget}),
		redo(Info{Name: "renameat", Act: ActPaths, Paths: paths(pat(0, 1, FollowNo), pat(2, 3, FollowNo)), Flags: -1, Cache: CacheForget}),
		redo(Info{Name: "renameat2", Act: ActPaths, Paths: paths(pat(0, 1, FollowNo), pat(2, 3, FollowNo)), Flags: -1, Cache: CacheForget}),
		redo(row("link", p(0, FollowNo), p(1, FollowNo))),
		redo(Info{Name: "linkat", Act: ActPaths, Paths: paths(pat(0, 1, FollowIfAtFollow), pat(2, 3, FollowNo)), Flags: 4, EmptyPath: true}),
		// symlink's first argument is the link's contents: never translated.
		redoIn(row("symlink", p(1, FollowNo)), 0, 0),
		redoIn(row("symlinkat", pat(1, 2, FollowNo)), 0, 0),
		// attributes
		redo(row("chmod", p(0, FollowYes))),
		redo(row("fchmodat", pat(0, 1, FollowYes))),
		redo(Info{Name: "fchmodat2", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 3, EmptyPath: true}),
		redo(row("chown", p(0, FollowYes))),
		redo(row("lchown", p(0, FollowNo))),
		redo(Info{Name: "fchownat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 4, EmptyPath: true}),
		redo(row("truncate", p(0, FollowYes))),
		{Name: "statfs", Act: ActPaths, Paths: paths(p(0, FollowYes)), Flags: -1, Notify: NotifyStatfs, Aux: 1},
		redoIn(row("utime", p(0, FollowYes)), 1, 16),  // struct utimbuf
		redoIn(row("utimes", p(0, FollowYes)), 1, 32), // struct timeval[2]
		redoIn(Info{Name: "futimesat", Act: ActPaths, Paths: paths(pat(0, 1, FollowYes)), Flags: -1, NullPath: true}, 2, 32),
		redoIn(Info{Name: "utimensat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 3, EmptyPath: true, NullPath: true}, 2, 32), // struct timespec[2]
		row("setxattr", p(0, FollowYes)),
		row("lsetxattr", p(0, FollowNo)),
		redoOut(redoIn(row("getxattr", p(0, FollowYes)), 1, 0), 2, 3),
		redoOut(redoIn(row("lgetxattr", p(0, FollowNo)), 1, 0), 2, 3),
		redoOut(redo(row("listxattr", p(0, FollowYes))), 1, 2),
		redoOut(redo(row("llistxattr", p(0, FollowNo))), 1, 2),
		row("removexattr", p(0, FollowYes)),
		row("lremovexattr", p(0, FollowNo)),
		{Name: "setxattrat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 2, EmptyPath: true},
		{Name: "getxattrat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 2, EmptyPath: true},
		{Name: "listxattrat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 2, EmptyPath: true},
		{Name: "removexattrat", Act: ActPaths, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 2, EmptyPath: true},
		// directories and processes
		row("chdir", p(0, FollowYes)),
		{Name: "chroot", Act: ActPaths, Paths: paths(p(0, FollowYes)), Flags: -1, Cache: CacheForgetAll, NewRoot: true},
		{Name: "getcwd", Act: ActGetcwd, Flags: -1, Notify: NotifyGetcwd},
		{Name: "execve", Act: ActExecve, Paths: paths(p(0, FollowYes)), Flags: -1},
		{Name: "execveat", Act: ActExecveat, Paths: paths(pat(0, 1, FollowUnlessAtNF)), Flags: 4, EmptyPath: true},
		{Name: "getdents64", Act: ActGetdents, Flags: -1, Notify: NotifyGetdents},
		{Name: "prctl", Act: ActPrctl, Flags: -1},
		// A process that may be in another mount namespace (Nix's build
		// sandbox) gets its notified calls' host paths through
		// /proc/<tid>/root (notify.go, otherNS).
		{Name: "unshare", Act: ActNamespace, Flags: -1},
		{Name: "setns", Act: ActNamespace, Flags: -1},
		// system administration (need privileges, translated all the same)
		row("acct", p(0, FollowYes)),
		row("swapon", p(0, FollowYes)),
		row("swapoff", p(0, FollowYes)),
		row("uselib", p(0, FollowYes)),
		// mount's source is a path for bind mounts; for others (a device, a
		// file system's name) the lookup leaves it alone.
		{Name: "mount", Act: ActPaths, Paths: paths(p(0, FollowYes), p(1, FollowYes)), Flags: -1, Cache: CacheForgetAll},
		{Name: "umount2", Act: ActPaths, Paths: paths(p(0, FollowNo)), Flags: -1, Cache: CacheForgetAll},
		{Name: "pivot_root", Act: ActPaths, Paths: paths(p(0, FollowYes), p(1, FollowYes)), Flags: -1, Cache: CacheForgetAll, NewRoot: true},
		// watching and handles
		rowf("inotify_add_watch", 2, pat(-1, 1, FollowUnlessInDF)),
		{Name: "fanotify_mark", Act: ActPaths, Paths: paths(pat(3, 4, FollowUnlessFanDF)), Flags: 1, NullPath: true},
		{Name: "name_to_handle_at", Act: ActPaths, Paths: paths(pat(0, 1, FollowIfAtFollow)), Flags: 4, EmptyPath: true},
		// unix sockets
		// Aux is the register of the sockaddr; its length follows it.
		{Name: "bind", Act: ActSockaddr, Flags: -1, Aux: 1},
		{Name: "connect", Act: ActSockaddr, Flags: -1, Aux: 1},
		{Name: "sendto", Act: ActSockaddr, Flags: -1, Aux: 4, NonNull: 1 + 4},
		{Name: "getsockname", Act: ActSockname, Flags: -1},
		{Name: "getpeername", Act: ActSockname, Flags: -1},
		// Refused with ENOSYS: their paths escape any translation (io_uring's
		// OPENAT and STATX ops never enter the syscall path; handles and the
		// new mount API take paths the tracer cannot see or map). Programs
		// fall back to the older calls.
		{Name: "io_uring_setup", Act: ActRefuse},
		{Name: "open_by_handle_at", Act: ActRefuse},
		{Name: "open_tree", Act: ActRefuse},
		{Name: "move_mount", Act: ActRefuse},
		{Name: "fsopen", Act: ActRefuse},
		{Name: "fsconfig", Act: ActRefuse},
		{Name: "fsmount", Act: ActRefuse},
		{Name: "fspick", Act: ActRefuse},
		{Name: "mount_setattr", Act: ActRefuse},
		{Name: "open_tree_attr", Act: ActRefuse},
		{Name: "file_getattr", Act: ActRefuse},
		{Name: "file_setattr", Act: ActRefuse},
	}
}

// Arch is one architecture's side of the syscall table: its numbers
// and what its seccomp filter must know. Both architectures' data are
// compiled everywhere (table_x86_64.go, table_aarch64.go), so the Table
// and the filter are checked for each on any build host; Native is the
// one np runs on (table_<GOARCH>.go).
type Arch struct {
	Name string
	// AuditArch is seccomp_data.arch of native calls; auditArchCompat of
	// the 32-bit entry point, whose calls get ENOSYS: the tracer only
	// knows native calls.
	AuditArch, AuditArchCompat uint32
	// X32Bit marks x32 calls in the number (0: no such ABI); refused too.
	X32Bit uint32
	// MaxKnownSyscall: numbers above it are refused with ENOSYS.
	MaxKnownSyscall int
	// Numbers are the calls of the Table that exist here, taken from
	// np's one list of numbers (internal/sysnum, generated from
	// golang.org/x/sys/unix); Absent, the rows that have no call here.
	Numbers map[string]int
	Absent  map[string]bool
}

// rowNumbers picks the Table's calls out of all of an architecture's.
func rowNumbers(all map[string]int) map[string]int {
	out := map[string]int{}
	for _, r := range Table() {
		if nr, ok := all[r.Name]; ok {
			out[r.Name] = nr
		}
	}
	return out
}

// ByNr is the Table indexed by this architecture's numbers (built on
// first use; callers must not change it).
func ByNr() map[int]*Info {
	byNr.once.Do(func() { byNr.m = mustIndex(Table(), Native()) })
	return byNr.m
}

var byNr struct {
	once sync.Once
	m    map[int]*Info
}

// Numbers are the numbers of the native architecture, by name.
func Numbers() map[string]int { return Native().Numbers }

// index maps numbers to rows; every row must have a number or be listed in
// a.Absent, and every number must have a row.
func (a *Arch) index(rows []Info) (map[int]*Info, error) {
	out := make(map[int]*Info, len(rows))
	seen := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		if seen[r.Name] {
			return nil, fmt.Errorf("syscall %s listed twice", r.Name)
		}
		seen[r.Name] = true
		nr, ok := a.Numbers[r.Name]
		if !ok {
			if a.Absent[r.Name] {
				continue
			}
			return nil, fmt.Errorf("syscall %s has no number on %s", r.Name, a.Name)
		}
		if a.Absent[r.Name] {
			return nil, fmt.Errorf("syscall %s has a number on %s but is listed as absent", r.Name, a.Name)
		}
		if nr > a.MaxKnownSyscall {
			return nil, fmt.Errorf("syscall %s (%d) above %s's maxKnownSyscall %d", r.Name, nr, a.Name, a.MaxKnownSyscall)
		}
		if other := out[nr]; other != nil {
			return nil, fmt.Errorf("syscalls %s and %s share number %d on %s", other.Name, r.Name, nr, a.Name)
		}
		out[nr] = r
	}
	for name := range a.Numbers {
		if !seen[name] {
			return nil, fmt.Errorf("syscall %s has a number on %s but no row", name, a.Name)
		}
	}
	for name := range a.Absent {
		if !seen[name] {
			return nil, fmt.Errorf("syscall %s is listed as absent on %s but has no row", name, a.Name)
		}
	}
	return out, nil
}

func mustIndex(rows []Info, a *Arch) map[int]*Info {
	m, err := a.index(rows)
	if err != nil {
		panic("ptrace syscall table: " + err.Error()) // a programming error, caught by every test
	}
	return m
}

// tracedNumbers lists, sorted, the numbers the filter traps (RET_TRACE).
func tracedNumbers(nrs map[int]*Info) []int {
	var out []int
	for nr, r := range nrs {
		if r.Act != ActRefuse {
			out = append(out, nr)
		}
	}
	sort.Ints(out)
	return out
}

// refusedNumbers lists, sorted, the numbers the filter refuses (ENOSYS).
func refusedNumbers(nrs map[int]*Info) []int {
	var out []int
	for nr, r := range nrs {
		if r.Act == ActRefuse {
			out = append(out, nr)
		}
	}
	sort.Ints(out)
	return out
}
