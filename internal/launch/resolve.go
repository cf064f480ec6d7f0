package launch

// ResolveDir returns dir as Prepare resolves Spec.NixDir: absolute,
// without symlinks, an existing directory. For a runtime that starts its
// child without Prepare (ptrace's forked child).
func ResolveDir(dir string) (string, error) { return resolveDir(dir) }
