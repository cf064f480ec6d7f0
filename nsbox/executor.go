package nsbox

import (
	"errors"
	"os"

	"github.com/np-portable/np/internal/launch"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// runPlan executes ops in order. It is the only place that mounts. The first
// failure ends it with a *launch.SetupError holding an *OpError.
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
				return &launch.SetupError{Step: o.Step, Path: o.Path, Err: rmErr}
			}
			continue
		}
		return &launch.SetupError{Step: o.Step, Path: o.Path, Err: err}
	}
	return nil
}

// runOp does one operation; failures are *OpError.
func runOp(o op) error {
	var err error
	switch o.Kind {
	case opMount:
		err = rawMount(o.Source, o.Target, o.FSType, o.Flags, o.Data)
	case opUmount:
		err = rawPathCall(unix.SYS_UMOUNT2, []string{o.Target}, o.Flags)
	case opMkdir:
		err = rawMkdir(o.Target, 0o755)
	case opCreate:
		err = rawCreate(o.Target)
	case opSymlink:
		err = rawSymlink(o.Source, o.Target)
	case opPivotRoot:
		err = rawPathCall(unix.SYS_PIVOT_ROOT, []string{o.Source, o.Target})
	case opChroot:
		err = rawPathCall(unix.SYS_CHROOT, []string{o.Target})
	case opChdir:
		err = rawPathCall(unix.SYS_CHDIR, []string{o.Target})
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
