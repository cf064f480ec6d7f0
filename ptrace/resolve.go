package ptrace

import (
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's limit of symlinks followed in one lookup.
const maxSymlinks = 40

// hostFS is what the resolver asks of the host: lstat's file type and
// readlink, both on host paths.
type hostFS interface {
	lstatType(path string) (uint32, error) // S_IFMT bits
	readlink(path string) (string, error)
}

// realFS is the host's file system, seen with the tracer's credentials
// (the tracees' own: np never changes ids). Its buffer makes it one
// goroutine's; sharedFS is the same for several.
type realFS struct{ buf []byte }

// sharedFS is realFS safe for concurrent use (a buffer per call).
type sharedFS struct{}

func (sharedFS) lstatType(path string) (uint32, error) { return realFS{}.lstatType(path) }

func (sharedFS) readlink(path string) (string, error) {
	var f realFS
	return f.readlink(path)
}

func (realFS) lstatType(path string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

func (f *realFS) readlink(path string) (string, error) {
	if f.buf == nil {
		f.buf = make([]byte, unix.PathMax)
	}
	n, err := unix.Readlink(path, f.buf)
	if err != nil {
		return "", err
	}
	return string(f.buf[:n]), nil
}

// view maps guest paths (what the tracees see) to host paths: /nix and
// everything under it is nixDir's, every other path is the host's own.
type view struct {
	nixDir string // absolute, without symlinks or a trailing slash
}

// toHost returns the host path of a canonical guest path.
func (v view) toHost(guest string) string {
	if rest, ok := underNix(guest); ok {
		return v.nixDir + rest
	}
	return guest
}

// toGuest returns the guest path of a host path: the inverse of toHost
// for paths under nixDir, the path itself otherwise.
func (v view) toGuest(host string) string {
	if strings.HasPrefix(host, v.nixDir) && (len(host) == len(v.nixDir) || host[len(v.nixDir)] == '/') {
		return "/nix" + host[len(v.nixDir):]
	}
	return host
}

// underNix reports whether guest is /nix or below it, and what follows
// "/nix" ("" or "/...").
func underNix(guest string) (string, bool) {
	if strings.HasPrefix(guest, "/nix") && (len(guest) == 4 || guest[4] == '/') {
		return guest[4:], true
	}
	return "", false
}

// resolved is the outcome of resolving a guest path.
type resolved struct {
	// guest is the canonical guest path the syscall acts on: no symlinks
	// (but the last component, when not followed), no "." or "..".
	guest string
	// crossed says the lookup crossed between /nix and the rest of the
	// tree (an absolute path or symlink into /nix, ".." out of it). Only
	// then does the kernel, looking up the original path on the host,
	// reach another file than the guest would: otherwise the path is
	// left as it is.
	crossed bool
	// proc says the lookup stopped at /proc/<pid>, /proc/self or
	// /proc/thread-self: the rest (in guest) is left to the kernel, which
	// knows which process is asking and follows the magic links.
	proc bool
	// trailingSlash: the path ended in "/" (the result must be a directory).
	trailingSlash bool
}

// resolver resolves guest paths component by component on the host.
type resolver struct {
	view
	fs hostFS
}

// resolve resolves path as the kernel would in the guest view: relative
// paths start at base (a canonical guest directory), symlinks are followed
// (the last component only when followLast), ".." pops the guest path.
// A missing last component is fine (the call may create it); a missing
// directory on the way is ENOENT, a non-directory ENOTDIR, more than 40
// symlinks ELOOP.
func (r *resolver) resolve(base, path string, followLast bool) (resolved, unix.Errno) {
	var res resolved
	if path == "" {
		return res, unix.ENOENT
	}
	res.trailingSlash = path[len(path)-1] == '/'
	cur := base
	if path[0] == '/' {
		cur = "/"
	}
	rest := path
	links := 0
	for {
		// Next component.
		i := 0
		for i < len(rest) && rest[i] == '/' {
			i++
		}
		rest = rest[i:]
		if rest == "" {
			break
		}
		name := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			name, rest = rest[:j], rest[j:]
		} else {
			rest = ""
		}
		last := isAllSlashes(rest)
		switch name {
		case ".":
			continue
		case "..":
			if cur == "/nix" {
				res.crossed = true
			}
			cur = parentDir(cur)
			continue
		}
		if cur == "/proc" && isProcSelf(name) {
			res.proc = true
			res.guest = "/proc/" + name + rest
			return res, 0
		}
		if cur == "/" && name == "nix" {
			res.crossed = true
		}
		next := joinPath(cur, name)
		host := r.toHost(next)
		typ, err := r.fs.lstatType(host)
		if err != nil {
			errno := toErrno(err)
			if errno == unix.ENOENT && last {
				res.guest = next
				return res, 0
			}
			return res, errno
		}
		switch typ {
		case unix.S_IFLNK:
			if last && !followLast && !res.trailingSlash {
				res.guest = next
				return res, 0
			}
			links++
			if links > maxSymlinks {
				return res, unix.ELOOP
			}
			target, err := r.fs.readlink(host)
			if err != nil {
				return res, toErrno(err)
			}
			if target == "" {
				return res, unix.ENOENT
			}
			if target[0] == '/' {
				cur = "/"
			}
			rest = target + rest
		case unix.S_IFDIR:
			cur = next
		default:
			if !last || res.trailingSlash {
				return res, unix.ENOTDIR
			}
			res.guest = next
			return res, 0
		}
	}
	res.guest = cur
	return res, 0
}

// resolveIn is resolve for a process in another mount namespace, whose
// files the host calls reach under root (/proc/<tid>/root): its mounts
// are not np's, so np's cache does not hold for it.
func (r *resolver) resolveIn(root, base, path string, followLast bool) (resolved, unix.Errno) {
	if root == "" {
		return r.resolve(base, path, followLast)
	}
	other := resolver{view: r.view, fs: underRoot{root}}
	return other.resolve(base, path, followLast)
}

// underRoot is the host's file system seen from another root.
type underRoot struct{ root string }

func (u underRoot) lstatType(path string) (uint32, error) {
	return sharedFS{}.lstatType(u.root + path)
}

func (u underRoot) readlink(path string) (string, error) {
	return sharedFS{}.readlink(u.root + path)
}

// hostPath is the path to give the kernel for res: its host path, with
// the trailing slash kept (rmdir "dir/" and mkdir "new/" mean the same).
func (r *resolver) hostPath(res resolved) string {
	h := r.toHost(res.guest)
	if res.trailingSlash && h != "/" {
		h += "/"
	}
	return h
}

func isAllSlashes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '/' {
			return false
		}
	}
	return true
}

// isProcSelf says whether name, under /proc, names a process: the kernel
// must resolve it for the tracee, not the tracer.
func isProcSelf(name string) bool {
	if name == "self" || name == "thread-self" {
		return true
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return name != ""
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func parentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func toErrno(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}
