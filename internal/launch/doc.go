// Package launch is what np's two runtimes share when they start a
// program: the one Spec both take, the parent's end of the handshake with
// the child each forks (the ns runtime's sandbox init, the ptrace
// runtime's traced process), the errors a start fails with, and how np
// ends (Exit). Neither child re-executes np: each is a raw fork that only
// makes system calls until it execs the program, so what crosses to it is
// in its memory already, and it reports back on a status pipe in its
// runtime's own form. The runtimes keep what differs: nsbox its plan of
// mounts and their executor, ptrace its tracer.
//
// # The handshake
//
// Launch is the parent's end (the ns runtime uses all of it; the ptrace
// runtime places its fds and reads its status itself, with the same
// Marker and the same meaning):
//
//   - Prepare resolves the Nix directory (ResolveDir), fills in the
//     Request (the Spec without its stdio), duplicates the descriptors
//     np's caller passed on purpose (Spec.PassFDs), and makes the status
//     pipe and the stdio.
//   - ChildFiles are the child's fds: the stdio, then the passed fds at
//     their own numbers, then the status pipe, which the child makes
//     close-on-exec.
//   - ReadStatus reads the status pipe once the child exists (after
//     CloseChildEnds): Marker once the program runs, or a failure and
//     then EOF. So: EOF with no data = the child died early; the marker
//     = the program runs (a copied stdin starts flowing only then);
//     anything else = the reason it does not, which the runtime's Decode
//     turns back into an error.
//   - Result, after the wait, says how the start ended.
//
// Helper names the child in those messages; Helper.Probe runs a
// runtime's probe (the whole set-up, stopping right before exec).
//
// # Failures
//
// A *SetupError means the program never started and its stdin was not
// read: the caller may fall back to another runtime. A *WorkDirError
// means it cannot start in the caller's working directory, a
// *proc.LookupError that Argv[0] is not found or not executable. Exit
// ends np: 125 for np's own failure, 126/127 for a program not executable
// or not found (ExitCode), else the program's status or its signal.
package launch
