package nsbox

import (
	"errors"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// runPlan executes ops in order. It is the only place that mounts. The first
// failure ends it with a *SetupError holding an *OpError.
func runPlan(ops []op) error {
	trace := logrus.IsLevelEnabled(logrus.TraceLevel)
	for _, o := range ops {
		if trace {
			logrus.Tracef("nsbox: %s", o.opError(0).call())
		}
		err := runOp(o)
		if err == nil {
			continue
		}
		if o.Kind == opPivotRoot && len(o.Fallback) > 0 && errors.Is(err, unix.EINVAL) {
			logrus.Debugf("nsbox: pivot_root %s: %v; the host root is probably an initramfs, moving instead", o.Source, err)
			if err := runPlan(o.Fallback); err != nil {
				return err
			}
			continue
		}
		if o.SkipIfGone && errors.Is(err, unix.ENOENT) {
			// The host entry vanished since the listing: drop its mount point too.
			logrus.Debugf("nsbox: skipping %s: %v", o.Path, err)
			if rmErr := os.Remove(o.Target); rmErr != nil && !errors.Is(rmErr, unix.ENOENT) {
				return &SetupError{Step: o.Step, Path: o.Path, Err: rmErr}
			}
			continue
		}
		return &SetupError{Step: o.Step, Path: o.Path, Err: err}
	}
	return nil
}

// runOp does one operation; failures are *OpError.
func runOp(o op) error {
	var err error
	switch o.Kind {
	case opMount:
		err = unix.Mount(o.Source, o.Target, o.FSType, o.Flags, o.Data)
	case opUmount:
		err = unix.Unmount(o.Target, int(o.Flags))
	case opMkdir:
		err = unix.Mkdir(o.Target, 0o755)
	case opCreate:
		var fd int
		// O_EXCL|O_NOFOLLOW: the file is new, on our own tmpfs.
		fd, err = unix.Open(o.Target, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			err = unix.Close(fd)
		}
	case opSymlink:
		err = unix.Symlink(o.Source, o.Target)
	case opPivotRoot:
		err = unix.PivotRoot(o.Source, o.Target)
	case opChroot:
		err = unix.Chroot(o.Target)
	case opChdir:
		err = unix.Chdir(o.Target)
	default:
		err = unix.ENOSYS
	}
	if err == nil {
		return nil
	}
	errno, ok := err.(unix.Errno)
	if !ok {
		errno = unix.EIO
	}
	return o.opError(errno)
}

// opError describes o as a failed system call.
func (o op) opError(errno unix.Errno) *OpError {
	return &OpError{Op: o.Kind.String(), Source: o.Source, Target: o.Target, FSType: o.FSType,
		Flags: o.Flags, Data: o.Data, Errno: errno}
}
