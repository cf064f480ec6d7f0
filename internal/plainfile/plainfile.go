// Package plainfile opens and reads the files np reads on every command
// (its own executable's trailer, the install stamp, small state files)
// without Go's network poller. os.Open offers every descriptor to the
// poller: the first time it sets the poller up (epoll_create1, eventfd2,
// epoll_ctl, and the scheduler polls it from then on), and for each
// regular file it switches O_NONBLOCK on and off around a refused
// epoll_ctl: five system calls per file that reading it does not need.
// A descriptor handed to os.NewFile in blocking mode stays out of it.
package plainfile

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens name read-only and close-on-exec, outside the poller.
func Open(name string) (*os.File, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// ReadFile is os.ReadFile for files np reads on every command: one open,
// one fstat for the size, the reads, one close.
func ReadFile(name string) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("fstat %s: %w", name, err)
	}
	// One byte more than the size, so that a file that has not grown is
	// read in one read(2) and its end seen in a second.
	data := make([]byte, 0, st.Size+1)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}
