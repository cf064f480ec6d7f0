package ptrace

import "golang.org/x/sys/unix"

// sysFstatat is fstatat(2)'s number: fstatat on arm64.
const sysFstatat = uintptr(unix.SYS_FSTATAT)
