// Package nsbox runs a program in an unprivileged sandbox built from Linux
// user and mount namespaces, in which a per-user data directory appears at
// /nix and the rest of the host is visible as it is.
//
// How a run goes (Run, then Init in the child):
//
//  1. Run re-executes this binary (/proc/self/exe, argv[1] = InitArg) with
//     CLONE_NEWUSER|CLONE_NEWNS, uid and gid mapped to themselves, setgroups
//     denied, and CAP_SYS_ADMIN kept as an ambient capability. Go cannot
//     unshare a user namespace in a running, multithreaded process
//     (golang/go#22283), hence the re-exec.
//  2. Run sends the spec over an inherited pipe; Init reads it (package
//     launch's handshake, shared with ptrace).
//  3. Init runs the set-up plan (plan.go; executor.go runs it): make /
//     a slave mount, mount a scratch tmpfs on /tmp, pivot into it (the host
//     root is now /oldroot), mount the sandbox root tmpfs at /newroot, bind
//     every host root entry into it (symlinks copied, directories and files
//     bound recursively, the host's /nix left out), bind the data directory
//     on /nix, pivot into /newroot, detach the rest and make / read-only.
//  4. Init drops its capabilities, enters the caller's working directory
//     (by name, or through the directory it inherited when the name leads
//     nowhere; never a substitute), finds the program on the PATH of its
//     environment, makes itself the subreaper of the program's tree and
//     starts the program as its child. It forwards signals, reaps orphans,
//     kills what the program left running when it ends, kills the whole
//     tree when np dies (its status pipe loses its reader), and ends the
//     way the program ended.
//
// Failures before the program starts travel back over the status pipe and
// come out of Run as *launch.SetupError (the caller may fall back to another
// runtime), *WorkDirError, or *proc.LookupError (program not found or not
// executable).
// Probe runs the same set-up without a program; Diagnose explains a failure
// from the host's settings.
package nsbox
