package nsbox

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The init makes its few dozen set-up calls (mount, mkdir, pivot_root)
// as raw system calls. It runs with GOMAXPROCS=1, and
// through Go's syscall path every call longer than 20 µs (a mount is
// more) had the runtime hand its P to a newly started thread: about a
// tenth of the init's CPU time went to that (perf). A raw call keeps the
// P; nothing else in the init runs while it sets up.

// rawPath is s as a NUL-terminated string for a raw call.
func rawPath(s string) (*byte, error) { return unix.BytePtrFromString(s) }

func rawCall(trap uintptr, a ...uintptr) error {
	var args [6]uintptr
	copy(args[:], a)
	_, _, errno := unix.RawSyscall6(trap, args[0], args[1], args[2], args[3], args[4], args[5])
	if errno != 0 {
		return errno
	}
	return nil
}

// ptr is p as a call argument. Go's collector does not move objects, but
// it may free one no longer referenced: each caller keeps its pointers
// alive across the call (runtime.KeepAlive).
func ptr(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// atFDCWD is AT_FDCWD as a call argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

// rawMount is mount(2); empty strings are passed as NULL, as unix.Mount
// does for fstype and data.
func rawMount(source, target, fstype string, flags uintptr, data string) error {
	var s, t, f, d *byte
	var err error
	if s, err = rawPath(source); err != nil {
		return err
	}
	if t, err = rawPath(target); err != nil {
		return err
	}
	if fstype != "" {
		if f, err = rawPath(fstype); err != nil {
			return err
		}
	}
	if data != "" {
		if d, err = rawPath(data); err != nil {
			return err
		}
	}
	err = rawCall(unix.SYS_MOUNT, ptr(s), ptr(t), ptr(f), flags, ptr(d))
	runtime.KeepAlive(s)
	runtime.KeepAlive(t)
	runtime.KeepAlive(f)
	runtime.KeepAlive(d)
	return err
}

// rawPathCall is a call whose arguments are dirfd-less paths and numbers:
// umount2, chroot, chdir, pivot_root.
func rawPathCall(trap uintptr, paths []string, rest ...uintptr) error {
	args := make([]uintptr, 0, 6)
	bufs := make([]*byte, 0, len(paths))
	for _, p := range paths {
		b, err := rawPath(p)
		if err != nil {
			return err
		}
		bufs = append(bufs, b)
		args = append(args, ptr(b))
	}
	err := rawCall(trap, append(args, rest...)...)
	runtime.KeepAlive(bufs)
	return err
}

func rawMkdir(path string, mode uint32) error {
	b, err := rawPath(path)
	if err != nil {
		return err
	}
	err = rawCall(unix.SYS_MKDIRAT, atFDCWD, ptr(b), uintptr(mode))
	runtime.KeepAlive(b)
	return err
}

func rawSymlink(target, link string) error {
	t, err := rawPath(target)
	if err != nil {
		return err
	}
	l, err := rawPath(link)
	if err != nil {
		return err
	}
	err = rawCall(unix.SYS_SYMLINKAT, ptr(t), atFDCWD, ptr(l))
	runtime.KeepAlive(t)
	runtime.KeepAlive(l)
	return err
}

// rawCreate creates the empty file path (O_EXCL|O_NOFOLLOW: it is new, on
// the init's own tmpfs).
func rawCreate(path string) error {
	b, err := rawPath(path)
	if err != nil {
		return err
	}
	fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, ptr(b),
		unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644, 0, 0)
	runtime.KeepAlive(b)
	if errno != 0 {
		return errno
	}
	return rawCall(unix.SYS_CLOSE, fd)
}
