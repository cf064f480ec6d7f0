package systable

import (
	"sync"

	"github.com/np-portable/np/internal/sysnum"
	"golang.org/x/sys/unix"
)

// AArch64 is the syscall table's data for arm64 (see table_x86_64.go;
// table_arm64.go makes it Native). arm64 uses the asm-generic
// numbers: only the *at forms of the path calls exist. It is built on
// first use (see Table); callers must not change it.
func AArch64() *Arch {
	aarch64.once.Do(func() { aarch64.a = newAArch64() })
	return &aarch64.a
}

var aarch64 struct {
	once sync.Once
	a    Arch
}

func newAArch64() Arch {
	return Arch{
		Name: "aarch64",
		// AArch32 tasks (on CPUs that run them) call with AUDIT_ARCH_ARM: the
		// filter refuses those with ENOSYS, and without a filter the tracer
		// does (isCompat, by the size of their register set).
		AuditArch:       unix.AUDIT_ARCH_AARCH64,
		AuditArchCompat: unix.AUDIT_ARCH_ARM,
		X32Bit:          0, // no such ABI
		MaxKnownSyscall: 469,
		Numbers:         rowNumbers(sysnum.AArch64()),
		// Rows with no call on arm64: the old path calls, of which only the
		// *at forms exist (and uselib, an a.out relic).
		Absent: map[string]bool{
			"open": true, "creat": true, "stat": true, "lstat": true, "access": true, "readlink": true,
			"unlink": true, "rmdir": true, "mkdir": true, "mknod": true, "rename": true, "link": true,
			"symlink": true, "chmod": true, "chown": true, "lchown": true, "utime": true, "utimes": true,
			"futimesat": true, "uselib": true,
		},
	}
}
