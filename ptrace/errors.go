package ptrace

import (
	"errors"
)

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
