package ptrace

import "errors"

// Steps of the set-up (launch.SetupError's Step) that callers and
// Diagnose recognise.
const (
	stepSeize  = "attaching to the program with ptrace"
	stepFilter = "installing seccomp filter"
	stepStart  = "starting the traced process"
	// stepProbeCalls: traced calls of the probe failed; the runtime
	// would fail the same way for a real program.
	stepProbeCalls = "making traced calls"
)

// errChildDied: the forked child closed the status pipe without a word.
var errChildDied = errors.New("traced process died before exec")
