// Package execplan holds what the tracer needs to plan an execve without
// the kernel's help: the kernel itself opens a script's #! interpreter
// and an ELF program's interpreter (PT_INTERP), paths no syscall rewrite
// reaches, so the tracer reads the program's first bytes (HeaderCache),
// splits a #! line as the kernel does (ParseShebang), finds the ELF
// interpreter (ELFInterp), makes execve's own checks first
// (CheckExecutable), and names the process after the path it was exec'd
// by through a symlink (Links). The plan itself, which reads and rewrites
// the tracee's registers, is the tracer's (ptrace's execve.go).
package execplan
