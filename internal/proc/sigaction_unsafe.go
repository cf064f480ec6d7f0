package proc

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setDefaultAction sets sig's disposition to SIG_DFL with rt_sigaction(2).
// SIG_DFL is 0, so an all-zero struct sigaction (handler, flags, restorer,
// mask: 4 words on amd64 and arm64) asks for exactly that on every
// architecture.
func setDefaultAction(sig syscall.Signal) error {
	var act [4]uint64
	const sigsetSize = 8 // the kernel's sigset_t, not libc's
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, sigsetSize, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
