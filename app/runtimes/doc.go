// Package runtimes makes np's store appear at /nix for the programs np
// runs, in one of three ways: native (the host's own writable /nix), ns
// (user and mount namespaces, package nsbox) or ptrace (a tracer
// rewriting paths, package ptrace). Its Chooser is the one place that
// decides which runtime runs a program, falling back while a runtime fails
// before its program starts; np doctor asks it the same question.
package runtimes
