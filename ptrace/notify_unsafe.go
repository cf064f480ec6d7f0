package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

func notifRecv(fd int, req *seccompNotif) error {
	*req = seccompNotif{}
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(req))
}

func notifSend(fd int, resp *seccompNotifResp) error {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(resp))
}

// notifValid says whether the notification id still waits for an answer
// (its thread did not die or get interrupted meanwhile).
func notifValid(fd int, id uint64) bool {
	return ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if errno != 0 {
		return errno
	}
	return nil
}

// rawBytes views a struct's memory, to write it into a tracee.
func statBytes(st *unix.Stat_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func statfsBytes(st *unix.Statfs_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func statxBytes(st *unix.Statx_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func faccessat2(path string, mode uint32, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	fdcwd := unix.AT_FDCWD
	_, _, errno := unix.Syscall6(unix.SYS_FACCESSAT2, uintptr(fdcwd), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(flags), 0, 0)
	if errno == unix.ENOSYS && flags == 0 {
		_, _, errno = unix.Syscall(unix.SYS_FACCESSAT, uintptr(fdcwd), uintptr(unsafe.Pointer(p)), uintptr(mode))
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// seccompNotifAddfd is struct seccomp_notif_addfd.
type seccompNotifAddfd struct {
	id         uint64
	flags      uint32
	srcfd      uint32
	newfd      uint32
	newfdFlags uint32
}

const (
	seccompAddfdFlagSend = 1 << 1 // SECCOMP_ADDFD_FLAG_SEND, Linux 5.14
)

// notifAddFD installs fd in the caller of notification id and answers the
// call with its number there. Before Linux 5.14 (no SEND flag) it installs
// it and answers with a separate SEND.
func notifAddFD(listener int, id uint64, fd int, newFlags uint32) error {
	a := seccompNotifAddfd{id: id, flags: seccompAddfdFlagSend, srcfd: uint32(fd), newfdFlags: newFlags}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), uintptr(unix.SECCOMP_IOCTL_NOTIF_ADDFD), uintptr(unsafe.Pointer(&a)))
	if errno == 0 {
		return nil
	}
	if errno != unix.EINVAL {
		return errno
	}
	a.flags = 0
	r, _, errno = unix.Syscall(unix.SYS_IOCTL, uintptr(listener), uintptr(unix.SECCOMP_IOCTL_NOTIF_ADDFD), uintptr(unsafe.Pointer(&a)))
	if errno != 0 {
		return errno
	}
	resp := seccompNotifResp{id: id, val: int64(r)}
	return notifSend(listener, &resp)
}
