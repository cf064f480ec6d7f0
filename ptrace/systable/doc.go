// Package systable is the ptrace runtime's syscall table and the seccomp
// filter derived from it: one row per system call the tracer stops for or
// refuses (Table: which arguments are paths, which register holds the
// directory fd and which flag says "do not follow", what the call does to
// the lookup cache, whether the notification server may answer it), the
// data of each architecture (X86_64, AArch64, Native), and Filter, which
// traps exactly the table's calls and refuses the rest of what the tracer
// cannot translate.
//
// The rows take their numbers from np's one list of system call numbers
// (internal/sysnum: generated from golang.org/x/sys/unix, every number
// checked against it). Both architectures are compiled on every build host, so the table and
// the filter are checked for each in the BPF interpreter
// (internal/bpf); the tests need no tracee, no user and no privilege.
// pathless.txt lists the calls Nix makes that need no row, with the
// reason (make syscalls reads it).
//
// All of it (Table, the Arch values, ByNr, Numbers) is built on first use
// and then shared: np runs that never trace (np --version, a run under the
// namespace runtime) pay nothing for it at start.
package systable
