// Package symlink replaces symbolic links atomically. The installer, the
// profile migration and the command line's links all point names at store
// paths or at np itself while other np processes may read or replace the
// same name; it sits below all of them so none imports another for it.
package symlink

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
)

// Replace makes link point at target, atomically: concurrent
// callers each use a temporary link of their own and a rename.
func Replace(target, link string) error {
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	// The temporary name must be unique among every process that shares
	// the data dir, and a pid is not: containers on one volume are each
	// PID 1 in their own pid namespace. It need not be unguessable (a
	// taken name is retried), so it comes from math/rand, which the Go
	// runtime seeds from the kernel's AT_RANDOM at exec: crypto/rand would
	// block on getrandom until the kernel's entropy pool is initialised,
	// minutes after boot in a VM without a hardware RNG (4.4.178 under qemu).
	var tmp string
	for {
		tmp = fmt.Sprintf("%s.tmp-%016x", link, rand.Uint64())
		err := os.Symlink(target, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
