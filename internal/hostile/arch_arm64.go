package hostile

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this architecture's native calls.
const auditArch = unix.AUDIT_ARCH_AARCH64
