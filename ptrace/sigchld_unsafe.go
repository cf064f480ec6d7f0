package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction (x86_64 and arm64
// alike): handler, flags, restorer, mask.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const saNoCldStop = 1 // SA_NOCLDSTOP

// quietStops keeps the kernel from sending this process a SIGCHLD for
// every stop of a tracee, and returns what undoes it. Each such signal
// interrupts one of the Go runtime's threads (its handler then throws the
// signal away: the tracer learns of stops from wait4), a wake-up and a
// context switch per ptrace stop that cost more than the stop itself on
// a VM. SA_NOCLDSTOP is added to the handler the runtime installed, which
// stays: exits still send SIGCHLD, and wait4 is woken either way.
func quietStops() (restore func()) {
	var old kernelSigaction
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 {
		return func() {}
	}
	if old.handler == 0 || old.handler == 1 || old.flags&saNoCldStop != 0 { // SIG_DFL, SIG_IGN, or already quiet
		return func() {}
	}
	quiet := old
	quiet.flags |= saNoCldStop
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&quiet)), 0, 8, 0, 0); errno != 0 {
		return func() {}
	}
	return func() {
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD), uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	}
}
