package guestpath

import (
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is the kernel's limit of symlinks followed in one lookup.
const maxSymlinks = 40

// HostFS is what the resolver asks of the host: lstat's file type and
// readlink, both on host paths.
type HostFS interface {
	LstatType(path string) (uint32, error) // S_IFMT bits
	Readlink(path string) (string, error)
}

// RealFS is the host's file system, seen with the tracer's credentials
// (the tracees' own: np never changes ids). Its buffer makes it one
// goroutine's; sharedFS is the same for several.
type RealFS struct{ buf []byte }

// SharedFS is realFS safe for concurrent use (a buffer per call).
type SharedFS struct{}

func (SharedFS) LstatType(path string) (uint32, error) { return RealFS{}.LstatType(path) }

func (SharedFS) Readlink(path string) (string, error) {
	var f RealFS
	return f.Readlink(path)
}

func (RealFS) LstatType(path string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

func (f *RealFS) Readlink(path string) (string, error) {
	if f.buf == nil {
		f.buf = make([]byte, unix.PathMax)
	}
	n, err := unix.Readlink(path, f.buf)
	if err != nil {
		return "", err
	}
	return string(f.buf[:n]), nil
}

// View maps guest paths (what the tracees see) to host paths: /nix and
// everything under it is nixDir's, every other path is the host's own.
type View struct {
	NixDir string // absolute, without symlinks or a trailing slash
}

// ToHost returns the host path of a canonical guest path.
func (v View) ToHost(guest string) string {
	if rest, ok := UnderNix(guest); ok {
		return v.NixDir + rest
	}
	return guest
}

// ToGuest returns the guest path of a host path: the inverse of toHost
// for paths under nixDir, the path itself otherwise.
func (v View) ToGuest(host string) string {
	if strings.HasPrefix(host, v.NixDir) && (len(host) == len(v.NixDir) || host[len(v.NixDir)] == '/') {
		return "/nix" + host[len(v.NixDir):]
	}
	return host
}

// UnderNix reports whether guest is /nix or below it, and what follows
// "/nix" ("" or "/...").
func UnderNix(guest string) (string, bool) {
	if strings.HasPrefix(guest, "/nix") && (len(guest) == 4 || guest[4] == '/') {
		return guest[4:], true
	}
	return "", false
}

// Resolved is the outcome of resolving a guest path.
type Resolved struct {
	// Guest is the canonical guest path the syscall acts on: no symlinks
	// (but the last component, when not followed), no "." or "..".
	Guest string
	// Crossed says the lookup crossed between /nix and the rest of the
	// tree (an absolute path or symlink into /nix, ".." out of it). Only
	// then does the kernel, looking up the original path on the host,
	// reach another file than the guest would: otherwise the path is
	// left as it is.
	Crossed bool
	// Proc says the lookup stopped at /proc/<pid>, /proc/self or
	// /proc/thread-self: the rest (in guest) is left to the kernel, which
	// knows which process is asking and follows the magic links.
	Proc bool
	// TrailingSlash: the path ended in "/" (the result must be a directory).
	TrailingSlash bool
}

// Resolver resolves guest paths component by component on the host.
type Resolver struct {
	View
	FS HostFS
}

// Resolve resolves path as the kernel would in the guest view: relative
// paths start at base (a canonical guest directory), symlinks are followed
// (the last component only when followLast), ".." pops the guest path.
// A missing last component is fine (the call may create it); a missing
// directory on the way is ENOENT, a non-directory ENOTDIR, more than 40
// symlinks ELOOP.
func (r *Resolver) Resolve(base, path string, followLast bool) (Resolved, unix.Errno) {
	var res Resolved
	if path == "" {
		return res, unix.ENOENT
	}
	res.TrailingSlash = path[len(path)-1] == '/'
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
				res.Crossed = true
			}
			cur = ParentDir(cur)
			continue
		}
		if cur == "/proc" && isProcSelf(name) {
			res.Proc = true
			res.Guest = "/proc/" + name + rest
			return res, 0
		}
		if cur == "/" && name == "nix" {
			res.Crossed = true
		}
		next := joinPath(cur, name)
		host := r.ToHost(next)
		typ, err := r.FS.LstatType(host)
		if err != nil {
			errno := Errno(err)
			if errno == unix.ENOENT && last {
				res.Guest = next
				return res, 0
			}
			return res, errno
		}
		switch typ {
		case unix.S_IFLNK:
			if last && !followLast && !res.TrailingSlash {
				res.Guest = next
				return res, 0
			}
			links++
			if links > maxSymlinks {
				return res, unix.ELOOP
			}
			target, err := r.FS.Readlink(host)
			if err != nil {
				return res, Errno(err)
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
			if !last || res.TrailingSlash {
				return res, unix.ENOTDIR
			}
			res.Guest = next
			return res, 0
		}
	}
	res.Guest = cur
	return res, 0
}

// ResolveIn is resolve for a process in another mount namespace, whose
// files the host calls reach under root (/proc/<tid>/root): its mounts
// are not np's, so np's cache does not hold for it.
func (r *Resolver) ResolveIn(root, base, path string, followLast bool) (Resolved, unix.Errno) {
	if root == "" {
		return r.Resolve(base, path, followLast)
	}
	other := Resolver{View: r.View, FS: underRoot{root}}
	return other.Resolve(base, path, followLast)
}

// underRoot is the host's file system seen from another root.
type underRoot struct{ root string }

func (u underRoot) LstatType(path string) (uint32, error) {
	return SharedFS{}.LstatType(u.root + path)
}

func (u underRoot) Readlink(path string) (string, error) {
	return SharedFS{}.Readlink(u.root + path)
}

// HostPath is the path to give the kernel for res: its host path, with
// the trailing slash kept (rmdir "dir/" and mkdir "new/" mean the same).
func (r *Resolver) HostPath(res Resolved) string {
	h := r.ToHost(res.Guest)
	if res.TrailingSlash && h != "/" {
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

func ParentDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func Errno(err error) unix.Errno {
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EIO
}
