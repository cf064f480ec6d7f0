// Package ptrace is the fallback runtime: a tracer rewriting paths in system
// calls. This file is a placeholder with the package's API until the tracer
// lands; every entry point reports that it is not built.
package ptrace

import (
	"errors"
	"io"
	"syscall"
)

// StubArg is the hidden argv[1] of the re-executed stub.
const StubArg = "__np_ptrace_stub"

// Spec is one traced run.
type Spec struct {
	NixDir         string
	Argv           []string
	Env            []string
	Dir            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	PassFDs        []int
	NoSeccomp      bool
}

// SetupError: the program never started.
type SetupError struct {
	Step string
	Err  error
}

func (e *SetupError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

var errNotBuilt = errors.New("the ptrace runtime is not part of this np yet")

// Run runs the program traced.
func Run(Spec) (syscall.WaitStatus, error) {
	return 0, &SetupError{Step: "starting tracer", Err: errNotBuilt}
}

// Probe says whether tracing works here.
func Probe() error { return &SetupError{Step: "probing ptrace", Err: errNotBuilt} }

// Stub is the re-executed child's entry.
func Stub() error { return errNotBuilt }

// Diagnosis explains a Probe or Run error.
type Diagnosis struct {
	Cause, Detail string
	Facts         map[string]string
}

// Diagnose explains err.
func Diagnose(err error) Diagnosis {
	if err == nil {
		return Diagnosis{}
	}
	return Diagnosis{Cause: "not_built", Detail: err.Error()}
}
