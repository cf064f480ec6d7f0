package nsbox

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
)

// WorkDirError means the program cannot start in the caller's working
// directory (launch's type: it crosses the status pipe whole).
type WorkDirError = launch.WorkDirError

// OpError is a failed raw system call of the set-up (mount, umount2,
// pivot_root, mkdir...), with its arguments and flags by name. Its fields
// are plain data; Run builds it from the op the init reports failed.
type OpError struct {
	Op     string // "mount", "umount2", "pivot_root", "mkdir", "symlink", "create", "chdir", "chroot"
	Source string `json:",omitempty"`
	Target string
	FSType string  `json:",omitempty"`
	Flags  uintptr `json:",omitempty"`
	Data   string  `json:",omitempty"`
	Errno  syscall.Errno
}

func (e *OpError) Error() string { return e.call() + ": " + e.Errno.Error() }

// call prints the system call with its arguments and named flags.
func (e *OpError) call() string {
	var b strings.Builder
	b.WriteString(e.Op)
	switch e.Op {
	case "mount":
		src := e.Source
		if src == "" {
			src = `""`
		}
		fmt.Fprintf(&b, " %s on %s (", src, e.Target)
		if e.FSType != "" {
			fmt.Fprintf(&b, "type %s, ", e.FSType)
		}
		b.WriteString(mountFlagString(e.Flags))
		if e.Data != "" {
			fmt.Fprintf(&b, ", data %q", e.Data)
		}
		b.WriteString(")")
	case "umount2":
		fmt.Fprintf(&b, " %s (%s)", e.Target, umountFlagString(e.Flags))
	case "pivot_root", "symlink":
		fmt.Fprintf(&b, " %s %s", e.Source, e.Target)
	default:
		b.WriteString(" " + e.Target)
	}
	return b.String()
}

func (e *OpError) Unwrap() error { return e.Errno }

// mountFlagNames names the mount(2) flags the plan uses, in print order.
var mountFlagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"},
	{unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"},
	{unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"},
}

// mountFlagString prints flags as "MS_BIND|MS_REC"; unknown bits in hex.
func mountFlagString(flags uintptr) string {
	if flags == 0 {
		return "0"
	}
	var names []string
	for _, f := range mountFlagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
			flags &^= f.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(names, "|")
}

func umountFlagString(flags uintptr) string {
	if flags == unix.MNT_DETACH {
		return "MNT_DETACH"
	}
	return fmt.Sprintf("%#x", flags)
}

// opError describes o as a failed system call.
func (o op) opError(errno unix.Errno) *OpError {
	return &OpError{Op: o.Kind.String(), Source: o.Source, Target: o.Target, FSType: o.FSType,
		Flags: o.Flags, Data: o.Data, Errno: errno}
}
