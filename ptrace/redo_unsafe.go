package ptrace

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// redoSyscall makes system call nr with args, those registers that bufs
// has a buffer for pointing at it instead.
func redoSyscall(nr int32, args [6]uint64, bufs *[6][]byte) (uint64, unix.Errno) {
	var a [6]uintptr
	for i := range a {
		a[i] = uintptr(args[i])
		if b := bufs[i]; b != nil {
			a[i] = uintptr(unsafe.Pointer(&b[0]))
		}
	}
	r, _, errno := unix.Syscall6(uintptr(nr), a[0], a[1], a[2], a[3], a[4], a[5])
	runtime.KeepAlive(bufs)
	return uint64(r), errno
}
