package ptrace

import "unsafe"

var rootDir = [2]byte{'/', 0}

// uintptrOf is the address of b, for a call that reads np's own memory.
func uintptrOf(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }
