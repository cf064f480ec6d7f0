package hostile

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this architecture's native calls.
const auditArch = unix.AUDIT_ARCH_X86_64

// The native architecture as OCI profiles name it: the archMap entry to
// use, and the name includes/excludes.arches match (Docker's names, from
// Go's GOARCH).
const (
	ociArch     = "SCMP_ARCH_X86_64"
	ociArchName = "amd64"
)

// ociSubArches are the audit arches of the sub-architectures a profile may
// list beside the native one. x32 shares AUDIT_ARCH_X86_64 (its calls have
// bit 30 set in the number), so only i386 has its own.
var ociSubArches = map[string]uint32{"SCMP_ARCH_X86": unix.AUDIT_ARCH_I386}
