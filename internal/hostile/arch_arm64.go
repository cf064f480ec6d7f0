package hostile

import "golang.org/x/sys/unix"

// auditArch is the seccomp_data.arch of this architecture's native calls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// The native architecture as OCI profiles name it: the archMap entry to
// use, and the name includes/excludes.arches match (Docker's names, from
// Go's GOARCH).
const (
	ociArch     = "SCMP_ARCH_AARCH64"
	ociArchName = "arm64"
)

// ociSubArches are the audit arches of the sub-architectures a profile may
// list beside the native one: 32-bit ARM (compat) tasks.
var ociSubArches = map[string]uint32{"SCMP_ARCH_ARM": unix.AUDIT_ARCH_ARM}
