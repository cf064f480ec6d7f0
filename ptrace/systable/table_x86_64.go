package systable

import (
	"sync"

	"github.com/np-portable/np/internal/sysnum"
	"golang.org/x/sys/unix"
)

// X86_64 is the syscall table's data for x86_64. It is compiled on
// every architecture (the file name carries no GOARCH) so that the check
// that the filter and the dispatcher agree runs for both architectures on
// any build host; table_amd64.go makes it Native. It is built on first
// use (see Table); callers must not change it.
func X86_64() *Arch {
	x86_64.once.Do(func() { x86_64.a = newX86_64() })
	return &x86_64.a
}

var x86_64 struct {
	once sync.Once
	a    Arch
}

func newX86_64() Arch {
	return Arch{
		Name: "x86_64",
		// Native calls; the 32-bit entry point (int 0x80) has another arch
		// value, which the filter refuses.
		AuditArch:       unix.AUDIT_ARCH_X86_64,
		AuditArchCompat: unix.AUDIT_ARCH_I386,
		// x32 calls carry this bit in the number; the filter refuses them.
		X32Bit: 0x40000000,
		// Numbers above it are refused with ENOSYS (a newer call may take a
		// path the tracer would not see; libcs fall back).
		MaxKnownSyscall: 469,
		Numbers:         rowNumbers(sysnum.X86_64()),
		// Every row has a call on x86_64.
		Absent: map[string]bool{},
	}
}
