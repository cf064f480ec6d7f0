// Package launch is how np starts a program in either runtime: the one
// Spec both take, and the one parent/child handshake with the helper
// process each starts (the ns runtime's sandbox init, the ptrace
// runtime's stub). The runtimes keep what differs: nsbox its plan of
// mounts and their executor, ptrace its tracer.
//
// # The helper process
//
// The ptrace runtime's Run re-executes this very binary (/proc/self/exe)
// with a hidden argv[1] naming the helper (Helper.Arg, starting with
// Prefix) and the helper's own small environment. The ns runtime's init is
// Forked instead (a fork of np that never execs np, see package nsbox):
// it shares the parent's end (Prepare's fds and status pipe, ReadStatus,
// Result), has no spec pipe, and writes failures of its own form
// (Launch.Decode). np's main, and every test binary
// that stands in for np, calls RunHelper first thing: the helper runs and
// the process ends as Exit says (125 for np's own failure, 126/127 for a
// program not executable or not found, else the program's status).
//
// # The handshake
//
// Launch is the parent's end, Child the helper's. Between them:
//
//   - fds: the descriptors np's caller passed on purpose (Spec.PassFDs)
//     keep their numbers; the spec pipe and the status pipe follow them,
//     then the runtime's own (Launch.AddFD: ptrace's socket for the
//     notification listener). argv[2] on names them.
//   - spec pipe: the parent writes one Request (Spec without its stdio,
//     with the Nix directory resolved, plus the runtime's Options) and
//     closes it; the helper reads it to EOF. Package wire's bytes, not
//     JSON: argv, environment and paths are bytes, not UTF-8 text, and
//     JSON would replace an invalid byte such as 0xe9 by U+FFFD (so
//     `np run rm $'file\xe9'` would remove another file). No reflection
//     either: this is on every run's start-up path.
//   - status pipe, close-on-exec in the helper: Marker once the program
//     runs, or an encoded failure (EncodeFailure) and then the helper
//     exits. So: EOF with no data = the helper died early; the marker =
//     the program runs; anything else = the reason it does not
//     (Launch.Result).
//
// A runtime's Run, in order: Launch.Prepare (resolve the Nix directory,
// fds, pipes, stdio), its own Options and AddFD, Launch.Command plus its
// own SysProcAttr, start it (proc.RunHook); once the helper exists,
// CloseChildEnds, Send and ReadStatus; after the wait, Launch.Result. The
// helper's entry: Helper.NewChild, Child.ReadRequest, its own set-up,
// Child.Program, Child.Started and exec (or Child.ProbeDone); on failure
// Child.Fail.
//
// # Failures
//
// A *SetupError means the program never started and its stdin was not
// read: the caller may fall back to another runtime. A *WorkDirError means
// it cannot start in the caller's working directory, a *proc.LookupError
// that Argv[0] is not found or not executable. All three cross the status
// pipe whole, bytes that are not UTF-8 included.
package launch
