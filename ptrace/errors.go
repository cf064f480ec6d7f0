package ptrace

import "errors"

// SetupError says which step of starting the traced program failed. When
// Run returns one, the program never started and its stdin was not read,
// so the caller may fall back to another runtime.
type SetupError struct {
	Step string // what was being done, e.g. "attaching to the program"
	Err  error  // the cause; unwraps to a syscall.Errno where there is one
}

func (e *SetupError) Error() string { return e.Step + ": " + e.Err.Error() }

func (e *SetupError) Unwrap() error { return e.Err }

// Steps of the set-up that callers and Diagnose recognise.
const (
	stepSeize  = "attaching to the program with ptrace"
	stepFilter = "installing seccomp filter"
	stepStub   = "starting the traced stub"
	// stepProbeCalls: traced calls of the probe failed; the runtime
	// would fail the same way for a real program.
	stepProbeCalls = "making traced calls"
)

// errStubDied: the stub closed the status pipe without a word.
var errStubDied = errors.New("traced stub died before exec")
