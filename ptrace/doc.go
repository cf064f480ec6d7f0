// Package ptrace runs a program so that every path under /nix is served
// from a host directory (NixDir) and everything else is the host as it
// is, with no namespaces and no privileges: a pure-Go path-rewriting
// tracer, accelerated by seccomp. It is np's fallback where user
// namespaces are disabled.
//
// How a run goes:
//
//  1. Run looks the program up on the PATH as execvp does, through the
//     tracer's view of the files (as the program will see them), and
//     forks np from a locked OS thread, which stays the tracer thread for
//     the whole run (every ptrace request must come from it); it seizes
//     the child (PTRACE_SEIZE, PTRACE_O_EXITKILL: if np dies, no tracee
//     runs on). The child is no second Go program: it makes only raw
//     system calls from a plan Run prepared (fork.go, fork_unsafe.go), and
//     waits for the seize on a pipe, so it does nothing untraced.
//  2. The child installs the seccomp filter derived from the syscall
//     table (package systable), and makes one probe call from which the
//     tracer learns the kernel's order of seccomp and syscall-enter stops
//     (Linux 4.8 swapped them) and takes the filter's notification
//     listener. Then it changes to Dir (already through the tracer),
//     writes the status pipe's marker and execs the program.
//  3. The tracer's wait loop (tracer.go) handles every stop of the tree:
//     fork, vfork, clone and exec events, group-stops (PTRACE_LISTEN keeps
//     ^Z working), signals (delivered as they come) and the filter's
//     SECCOMP_RET_TRACE stops, which syscalls.go hands to their handler
//     by the table's action; paths.go translates path arguments: package guestpath resolves the guest path component by
//     component on the host (symlinks into /nix, ".." out of it, ELOOP,
//     trailing slashes) and says whether the kernel, left alone, would
//     reach another file; only then is the path rewritten, into a scratch
//     area the tracer maps into the process (scratch.go), and the
//     registers restored at the exit stop. execve is planned in the tracer
//     (execve.go, with package execplan): #! lines are expanded and an ELF whose interpreter is
//     under /nix runs as "ld.so --argv0 ARGV0 PROG ARGS", with
//     /proc/self/exe answered from the tracer. getcwd, readlink of /proc
//     links, getdents64 of / (a "nix" entry) and unix socket names are
//     answered with guest paths (emulate.go).
//  4. Calls that only read (stat, statx, access, readlink, statfs,
//     getcwd), opens (but O_PATH ones), getdents64 and the calls that
//     make, move, remove or change names go to seccomp user notifications
//     instead, where the kernel has them (Linux >= 5.6; those needing fds
//     >= 5.9): notify.go lets them through untouched or answers them
//     itself (an open by opening the host path and installing the fd in
//     the caller, a file it makes with the caller's umask, a listing of /
//     through a copy of the caller's fd in rootdir.go, a mkdir or rename
//     by making the same call on host paths in redo.go). Both paths take
//     their answers from answers.go: the call's resolved paths, the host
//     path the kernel is given, /proc links, getcwd, listings of /; the
//     server only makes the call itself. A notification costs a fraction of a ptrace stop (about
//     4 µs against 20-60 µs measured on a 2-vCPU VM, where a stop's
//     cross-CPU wake-ups dominate; Linux >= 6.6 wakes the server on the
//     caller's CPU) and is served beside the tracer thread.
//
// Run returns the root program's wait status once every traced process
// has ended. Without the filter (Options.NoSeccomp, or where it cannot be
// installed) every syscall stops twice (PTRACE_SYSCALL): slower, same
// result. Failures before the program runs come out of Run as a
// *launch.SetupError or a *proc.LookupError; Probe checks that tracing works,
// Diagnose explains why not.
//
// The files are layered: each uses only files below it. On top, Run
// (run.go, diagnose.go; the program's process forked from a plan,
// fork.go, fork_unsafe.go) and the wait loop (tracer.go); then the dispatch
// at a stop (syscalls.go) and the notification server (notify.go); their
// handlers (paths.go, emulate.go, execve.go, scratch.go; rootdir.go,
// redo.go, notifyreply.go); the answers both share (answers.go); the state every handler reads (state.go: tracer, thread,
// process, the server's state, and ok/fail/succeed); and at the bottom
// path lookup (lookup.go), tracee memory (mem.go), host-call probes
// (hostcalls.go), /proc readers (procfs.go), registers (regs_*.go) and the
// unsafe calls (*_unsafe.go).
//
// A process that changes its root (chroot, pivot_root: Nix's build
// sandbox) sees its own tree from then on and is no longer translated.
//
// Known limits: the contents of /proc/<pid>/maps, cmdline and environ
// still show host paths; accept and recvfrom/recvmsg return host socket
// paths; sendmsg's address is not translated; io_uring, open_by_handle_at
// and the new mount API are refused with ENOSYS; a process outside the
// traced tree that replaces a directory by a symlink may be seen late (the
// lookup cache, guestpath.CachedFS).
package ptrace
