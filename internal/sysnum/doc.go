// Package sysnum is np's one list of system call numbers: every call of
// x86_64 (X86_64) and of aarch64 (AArch64), by the kernel's name (the
// names seccomp profiles use). Both are generated from
// golang.org/x/sys/unix (the version go.mod requires) by mksysnum and
// compiled on every architecture; a test checks every number against
// x/sys. The ptrace runtime's syscall table takes its rows' numbers from
// here, and so does the OCI profile compiler of the tests' hostile hosts.
//
// Each table is a function that builds its map on first use: np runs
// that never look a number up (np --version, a run under the namespace
// runtime) pay nothing for it at start.
package sysnum

//go:generate go run ./mksysnum -arch amd64 -var X86_64 -out x86_64.go
//go:generate go run ./mksysnum -arch arm64 -var AArch64 -out aarch64.go
