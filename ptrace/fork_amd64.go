package ptrace

import "golang.org/x/sys/unix"

// sysFstatat is fstatat(2)'s number: newfstatat on x86_64.
const sysFstatat = uintptr(unix.SYS_NEWFSTATAT)
