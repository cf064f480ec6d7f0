package nsbox

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// listHostRoot lists dir by d_type only: stat on a dead NFS top-level dir
// can hang (Go lstats only entries whose d_type is DT_UNKNOWN). Symlinks
// that vanish before readlink are skipped like any entry that vanishes.
func listHostRoot(dir string) ([]hostEntry, error) {
	// Not os.Open: it tries the netpoller on a directory (4 calls and a
	// refused epoll_ctl on every run).
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	dents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	entries := make([]hostEntry, 0, len(dents))
	for _, d := range dents {
		e := hostEntry{Name: d.Name(), Kind: entryFile}
		switch t := d.Type(); {
		case t&os.ModeSymlink != 0:
			e.Kind = entrySymlink
			e.Link, err = os.Readlink(dir + "/" + e.Name)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if err != nil {
				return nil, err
			}
		case t.IsDir():
			e.Kind = entryDir
		}
		entries = append(entries, e)
	}
	return entries, nil
}
