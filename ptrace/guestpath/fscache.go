package guestpath

import (
	"sync"

	"golang.org/x/sys/unix"
)

// CachedFS remembers what lstat and readlink said about host paths, so a
// path resolved once costs no system call the next time: gcc alone looks
// up tens of thousands of paths below the same few directories, and every
// lookup is otherwise one lstat per component.
//
// Only the existence of a name changes what is cached (a directory, file
// or symlink and its target stay what they are until the name is removed
// or renamed over). Traced processes do that through unlink, rmdir and
// rename, which the tracer sees first and reports with forget or
// ForgetAll; mount calls forget everything. A change made by a process
// outside the traced tree is not seen: in the worst case a lookup there
// is answered as it would have been a moment before.
type CachedFS struct {
	mu      sync.Mutex // the tracer and the notification server share it
	fs      HostFS
	types   map[string]uint32
	targets map[string]string
}

// maxCached bounds the cache; past it, it starts afresh.
const maxCached = 1 << 16

func NewCachedFS(fs HostFS) *CachedFS {
	return &CachedFS{fs: fs, types: map[string]uint32{}, targets: map[string]string{}}
}

func (c *CachedFS) LstatType(path string) (uint32, error) {
	c.mu.Lock()
	t, ok := c.types[path]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := c.fs.LstatType(path)
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

func (c *CachedFS) Readlink(path string) (string, error) {
	c.mu.Lock()
	s, ok := c.targets[path]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := c.fs.Readlink(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.types[path] == unix.S_IFLNK {
		c.targets[path] = s
	}
	return s, err
}

// Forget drops what is known of path; a directory takes everything with it.
func (c *CachedFS) Forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.types[path] == unix.S_IFDIR {
		c.clear()
		return
	}
	delete(c.types, path)
	delete(c.targets, path)
}

func (c *CachedFS) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

func (c *CachedFS) clear() {
	clear(c.types)
	clear(c.targets)
}
