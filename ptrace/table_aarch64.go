package ptrace

import (
	"sync"

	"golang.org/x/sys/unix"
)

// archAArch64 is the syscall table's data for arm64 (see table_x86_64.go;
// table_arm64.go makes it nativeArch). arm64 uses the asm-generic
// numbers: only the *at forms of the path calls exist.
var archAArch64 = sync.OnceValue(func() *archTable {
	return &archTable{
		name: "aarch64",
		// AArch32 tasks (on CPUs that run them) call with AUDIT_ARCH_ARM: the
		// filter refuses those with ENOSYS, and without a filter the tracer
		// does (isCompat, by the size of their register set).
		auditArch:       unix.AUDIT_ARCH_AARCH64,
		auditArchCompat: unix.AUDIT_ARCH_ARM,
		x32Bit:          0, // no such ABI
		maxKnownSyscall: 469,
		numbers: map[string]int{
			"openat": 56, "openat2": 437,
			"newfstatat": 79, "statx": 291,
			"faccessat": 48, "faccessat2": 439,
			"readlinkat": 78,
			"unlinkat":   35, "mkdirat": 34, "mknodat": 33, "renameat": 38, "renameat2": 276,
			"linkat": 37, "symlinkat": 36,
			"fchmodat": 53, "fchmodat2": 452, "fchownat": 54,
			"truncate": 45, "statfs": 43, "utimensat": 88,
			"setxattr": 5, "lsetxattr": 6, "getxattr": 8, "lgetxattr": 9,
			"listxattr": 11, "llistxattr": 12, "removexattr": 14, "lremovexattr": 15,
			"setxattrat": 463, "getxattrat": 464, "listxattrat": 465, "removexattrat": 466,
			"chdir": 49, "chroot": 51, "getcwd": 17, "execve": 221, "execveat": 281,
			"getdents64": 61, "prctl": 167, "unshare": 97, "setns": 268,
			"acct": 89, "swapon": 224, "swapoff": 225,
			"mount": 40, "umount2": 39, "pivot_root": 41,
			"inotify_add_watch": 27, "fanotify_mark": 263, "name_to_handle_at": 264,
			"sendto": 206, "bind": 200, "connect": 203, "getsockname": 204, "getpeername": 205,
			"io_uring_setup": 425, "open_by_handle_at": 265,
			"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
			"mount_setattr": 442, "open_tree_attr": 467, "file_getattr": 468, "file_setattr": 469,
		},
		// Rows with no call on arm64: the old path calls, of which only the
		// *at forms exist (and uselib, an a.out relic).
		absent: map[string]bool{
			"open": true, "creat": true, "stat": true, "lstat": true, "access": true, "readlink": true,
			"unlink": true, "rmdir": true, "mkdir": true, "mknod": true, "rename": true, "link": true,
			"symlink": true, "chmod": true, "chown": true, "lchown": true, "utime": true, "utimes": true,
			"futimesat": true, "uselib": true,
		},
	}
})
