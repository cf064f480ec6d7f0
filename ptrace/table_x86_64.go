package ptrace

import (
	"sync"

	"golang.org/x/sys/unix"
)

// archX86_64 is the syscall table's data for x86_64. It is compiled on
// every architecture (the file name carries no GOARCH) so that the check
// that the filter and the dispatcher agree runs for both architectures on
// any build host; table_amd64.go makes it nativeArch.
var archX86_64 = sync.OnceValue(func() *archTable {
	return &archTable{
		name: "x86_64",
		// Native calls; the 32-bit entry point (int 0x80) has another arch
		// value, which the filter refuses.
		auditArch:       unix.AUDIT_ARCH_X86_64,
		auditArchCompat: unix.AUDIT_ARCH_I386,
		// x32 calls carry this bit in the number; the filter refuses them.
		x32Bit: 0x40000000,
		// Numbers above it are refused with ENOSYS (a newer call may take a
		// path the tracer would not see; libcs fall back).
		maxKnownSyscall: 469,
		numbers: map[string]int{
			"open": 2, "creat": 85, "openat": 257, "openat2": 437,
			"stat": 4, "lstat": 6, "newfstatat": 262, "statx": 332,
			"access": 21, "faccessat": 269, "faccessat2": 439,
			"readlink": 89, "readlinkat": 267,
			"unlink": 87, "rmdir": 84, "unlinkat": 263, "mkdir": 83, "mkdirat": 258,
			"mknod": 133, "mknodat": 259, "rename": 82, "renameat": 264, "renameat2": 316,
			"link": 86, "linkat": 265, "symlink": 88, "symlinkat": 266,
			"chmod": 90, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "lchown": 94, "fchownat": 260,
			"truncate": 76, "statfs": 137, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
			"setxattr": 188, "lsetxattr": 189, "getxattr": 191, "lgetxattr": 192,
			"listxattr": 194, "llistxattr": 195, "removexattr": 197, "lremovexattr": 198,
			"setxattrat": 463, "getxattrat": 464, "listxattrat": 465, "removexattrat": 466,
			"chdir": 80, "chroot": 161, "getcwd": 79, "execve": 59, "execveat": 322,
			"getdents64": 217, "prctl": 157, "unshare": 272, "setns": 308,
			"acct": 163, "swapon": 167, "swapoff": 168, "uselib": 134,
			"mount": 165, "umount2": 166, "pivot_root": 155,
			"inotify_add_watch": 254, "fanotify_mark": 301, "name_to_handle_at": 303,
			"sendto": 44, "bind": 49, "connect": 42, "getsockname": 51, "getpeername": 52,
			"io_uring_setup": 425, "open_by_handle_at": 304,
			"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
			"mount_setattr": 442, "open_tree_attr": 467, "file_getattr": 468, "file_setattr": 469,
		},
		// Every row has a call on x86_64.
		absent: map[string]bool{},
	}
})
