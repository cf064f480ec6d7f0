// Package nsbox runs a program in an unprivileged sandbox built from Linux
// user and mount namespaces, in which a per-user data directory appears at
// /nix and the rest of the host is visible as it is.
//
// How a run goes (Run, then the init in fork_unsafe.go):
//
//  1. Run lists the host's root (by d_type only) and builds the set-up
//     plan (plan.go), then lays out everything the init needs in one
//     image (image.go): every path NUL-terminated in one arena, the fds
//     to place, the program's argv, environment and PATH candidates.
//  2. Run forks the init with a raw clone(CLONE_NEWUSER|CLONE_NEWNS) and
//     no exec: the init is a copy of np that never starts a Go runtime of
//     its own, and runs only raw system calls (fork_unsafe.go says under
//     which rules). It places its fds, maps the caller's uid and gid to
//     themselves with setgroups denied (from inside, as util-linux's
//     unshare -r does: it has every capability in its new namespace),
//     and runs the plan: make / a slave mount, mount a scratch tmpfs on
//     /tmp, pivot into it (the host root is now /oldroot), mount the
//     sandbox root tmpfs at /newroot, bind every host root entry into it
//     (symlinks copied, directories and files bound recursively, the
//     host's /nix left out), bind the data directory on /nix, pivot into
//     /newroot, detach the rest and make / read-only.
//  3. The init drops its capabilities, enters the caller's working
//     directory (by name, or through the directory it inherited when the
//     name leads nowhere; never a substitute), finds the program on the
//     PATH of its environment, makes itself the subreaper of the
//     program's tree and forks the program, which execs. It forwards
//     signals (read from a signalfd), reaps orphans, kills what the
//     program left running when it ends, kills the whole tree when np
//     dies (its status pipe loses its reader), and ends the way the
//     program ended.
//
// Failures before the program starts travel back over the status pipe as
// a fixed record (the failed op's index and errno, a step, a lookup
// result) from which Run rebuilds *launch.SetupError (the caller may fall back to
// another runtime), *WorkDirError, or *proc.LookupError (program not found
// or not executable).
// Probe runs the same set-up without a program; Diagnose explains a failure
// from the host's settings.
package nsbox
