package ptrace

import "errors"

// Steps of the set-up (launch.SetupError's Step) that callers and
// Diagnose recognise.
const (
	stepSeize  = "attaching to the program with ptrace"
	stepFilter = "installing seccomp filter"
	stepStub   = "starting the traced process"
	// stepProbeCalls: traced calls of the probe failed; the runtime
	// would fail the same way for a real program.
	stepProbeCalls = "making traced calls"
)

// errStubDied: the forked child closed the status pipe without a word.
var errStubDied = errors.New("traced process died before exec")
