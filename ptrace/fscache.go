package ptrace

import "golang.org/x/sys/unix"

// cachedFS remembers what lstat and readlink said about host paths, so a
// path resolved once costs no system call the next time: gcc alone looks
// up tens of thousands of paths below the same few directories, and every
// lookup is otherwise one lstat per component.
//
// Only the existence of a name changes what is cached (a directory, file
// or symlink and its target stay what they are until the name is removed
// or renamed over). Traced processes do that through unlink, rmdir and
// rename, which the tracer sees first and reports with forget or
// forgetAll; mount calls forget everything. A change made by a process
// outside the traced tree is not seen: in the worst case a lookup there
// is answered as it would have been a moment before.
type cachedFS struct {
	fs      hostFS
	types   map[string]uint32
	targets map[string]string
}

// maxCached bounds the cache; past it, it starts afresh.
const maxCached = 1 << 16

func newCachedFS(fs hostFS) *cachedFS {
	return &cachedFS{fs: fs, types: map[string]uint32{}, targets: map[string]string{}}
}

func (c *cachedFS) lstatType(path string) (uint32, error) {
	if t, ok := c.types[path]; ok {
		return t, nil
	}
	t, err := c.fs.lstatType(path)
	if err == nil {
		if len(c.types) >= maxCached {
			c.forgetAll()
		}
		c.types[path] = t
	}
	return t, err
}

func (c *cachedFS) readlink(path string) (string, error) {
	if s, ok := c.targets[path]; ok {
		return s, nil
	}
	s, err := c.fs.readlink(path)
	if err == nil && c.types[path] == unix.S_IFLNK {
		c.targets[path] = s
	}
	return s, err
}

// uncached reads a link afresh (the links of /proc change all the time).
func (c *cachedFS) uncached() hostFS { return c.fs }

// forget drops what is known of path; a directory takes everything with it.
func (c *cachedFS) forget(path string) {
	if c.types[path] == unix.S_IFDIR {
		c.forgetAll()
		return
	}
	delete(c.types, path)
	delete(c.targets, path)
}

func (c *cachedFS) forgetAll() {
	clear(c.types)
	clear(c.targets)
}
