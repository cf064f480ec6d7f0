// Package guestpath maps the paths a traced program sees (guest paths) to
// the host's: /nix and everything under it is the data dir's (View), any
// other path is the host's own. Resolver resolves a guest path component
// by component on the host as the kernel would (symlinks into /nix, ".."
// out of it, ELOOP, trailing slashes) and says whether the kernel, given
// the original path, would reach another file (Resolved.Crossed); only
// then does the tracer rewrite it. CachedFS remembers what lstat and
// readlink said, so a path resolved once costs no system call the next
// time. The tests fuzz the resolver against the kernel's own lookups.
package guestpath
