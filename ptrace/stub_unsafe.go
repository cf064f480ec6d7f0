package ptrace

import "unsafe"

var rootDir = [2]byte{'/', 0}

// rootDirPtr points at a C string "/" for the probe call.
func rootDirPtr() unsafe.Pointer { return unsafe.Pointer(&rootDir[0]) }

// listenerTaken is set to 1 by the tracer when it took the stub's
// notification listener.
var listenerTaken uint32

func listenerTakenPtr() unsafe.Pointer { return unsafe.Pointer(&listenerTaken) }

// uintptrOf is the address of b, for a call that reads np's own memory.
func uintptrOf(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }
