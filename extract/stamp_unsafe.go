package extract

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// lstatBytes is lstat of the NUL-terminated name below dirfd, without the
// copy unix.Fstatat makes of a Go string: the stamp check makes a few
// hundred of these on every command.
func lstatBytes(dirfd int, name []byte, st *unix.Stat_t) error {
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&name[0])),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
