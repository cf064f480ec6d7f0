// Empty: a package with an assembly file may declare functions without a
// body, which fork_unsafe.go does for the runtime's fork hooks (go:linkname).
