package ptrace

import (
	"sync"

	"golang.org/x/sys/unix"
)

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
	mu      sync.Mutex // the tracer and the notification server share it
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
	c.mu.Lock()
	t, ok := c.types[path]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := c.fs.lstatType(path)
	if err == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.types) >= maxCached {
			c.clear()
		}
		c.types[path] = t
	}
	return t, err
}

func (c *cachedFS) readlink(path string) (string, error) {
	c.mu.Lock()
	s, ok := c.targets[path]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := c.fs.readlink(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.types[path] == unix.S_IFLNK {
		c.targets[path] = s
	}
	return s, err
}

// forget drops what is known of path; a directory takes everything with it.
func (c *cachedFS) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.types[path] == unix.S_IFDIR {
		c.clear()
		return
	}
	delete(c.types, path)
	delete(c.targets, path)
}

func (c *cachedFS) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

func (c *cachedFS) clear() {
	clear(c.types)
	clear(c.targets)
}
