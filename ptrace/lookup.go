package ptrace

import (
	"github.com/np-portable/np/ptrace/guestpath"
	"github.com/np-portable/np/ptrace/systable"
	"golang.org/x/sys/unix"
)

// lookup reads and resolves tracee paths. The tracer and the notification
// server each have their own (their buffers are not shared); the resolver
// and its cache are.
type lookup struct {
	res    *guestpath.Resolver
	mem    memReader
	procfs guestpath.RealFS // /proc links, read afresh every time
	buf    []byte
	// nsRoot is "/proc/<tid>/root" while a call of a process in another
	// mount namespace than np's is decided, else "": lookups go through
	// it, and so do the notification server's own calls.
	nsRoot string
}

// procPath builds "/proc/<tid>/<rest>" in one allocation.
func (lk *lookup) procPath(tid int, rest string) string {
	b := append(lk.buf[:0], "/proc/"...)
	b = appendInt(b, tid)
	b = append(b, '/')
	b = append(b, rest...)
	lk.buf = b
	return string(b)
}

// followLast decides whether the last component of pa is followed, from
// the call's arguments.
func followLast(tid int, args *[6]uint64, pa systable.PathArg, info *systable.Info) bool {
	var flags uint64
	if info.Flags >= 0 {
		flags = args[info.Flags]
	}
	switch pa.Follow {
	case systable.FollowNo:
		return false
	case systable.FollowUnlessAtNF:
		return flags&unix.AT_SYMLINK_NOFOLLOW == 0
	case systable.FollowIfAtFollow:
		return flags&unix.AT_SYMLINK_FOLLOW != 0
	case systable.FollowOpenFlags:
		return openFollows(flags)
	case systable.FollowOpenHow:
		if f, ok := readWord(tid, flags); ok { // struct open_how starts with flags
			return openFollows(f)
		}
		return true
	case systable.FollowUnlessInDF:
		return flags&unix.IN_DONT_FOLLOW == 0
	case systable.FollowUnlessFanDF:
		return flags&unix.FAN_MARK_DONT_FOLLOW == 0
	}
	return true
}

func openFollows(flags uint64) bool {
	return flags&unix.O_NOFOLLOW == 0 && flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL
}

// baseDir returns the guest directory a relative path of tid starts
// from: its cwd, or the directory open as the dirfd in register
// dirfdReg (-1: the cwd). ok is false when that is not a directory path
// the tracer can see (a pipe, a deleted directory, a bad fd): the kernel
// then decides, and the call is left alone.
func (lk *lookup) baseDir(tid int, args *[6]uint64, dirfdReg int8) (string, bool) {
	fd := int32(unix.AT_FDCWD)
	if dirfdReg >= 0 {
		fd = int32(args[dirfdReg])
	}
	var link string
	if fd == unix.AT_FDCWD {
		link = lk.procPath(tid, "cwd")
	} else {
		link = lk.procPath(tid, "fd/"+itoa(int(fd)))
	}
	host, err := lk.procfs.Readlink(link)
	if err != nil || host == "" || host[0] != '/' {
		return "", false
	}
	return lk.res.ToGuest(host), true
}

// resolveArg reads and resolves the path of pa. leave says the kernel
// will do the same thing with the original path (or fail it the same way:
// a NULL or unreadable pointer, an empty or too long path).
func (lk *lookup) resolveArg(tid int, args *[6]uint64, pa systable.PathArg, follow bool) (res guestpath.Resolved, errno unix.Errno, leave bool) {
	ptr := args[pa.Arg]
	if ptr == 0 {
		return res, 0, true
	}
	s, ok := lk.mem.readString(tid, ptr)
	if !ok || s == "" {
		return res, 0, true
	}
	base := "/"
	if s[0] != '/' {
		if base, ok = lk.baseDir(tid, args, pa.Dirfd); !ok {
			return res, 0, true
		}
	}
	res, errno = lk.res.ResolveIn(lk.nsRoot, base, s, follow)
	if errno != 0 && !res.Crossed {
		return res, 0, true
	}
	return res, errno, false
}
