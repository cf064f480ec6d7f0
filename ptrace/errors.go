package ptrace

import (
	"errors"

	"github.com/np-portable/np/internal/launch"
)

// SetupError says which step of starting the traced program failed
// (launch's one type for both runtimes). When Run returns one, the program
// never started and its stdin was not read, so the caller may fall back to
// another runtime.
type SetupError = launch.SetupError

// Steps of the set-up that callers and Diagnose recognise.
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
