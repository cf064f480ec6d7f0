package runtimes

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/launch"
)

// Chooser is the one place that decides which runtime runs a program; every
// run, the first install's probe and np doctor go through it.
//
// For NP_RUNTIME=auto the candidates are native when the host's /nix is
// usable, else ns, then ptrace. A runtime that fails before the program
// starts (a refused user namespace, a refused tracer) is dropped and the
// next one is tried; a failure after the program started is final, because
// the program may already have done something. Nothing is cached between
// runs: the order is re-made every time, so a host that changes never
// strands anyone.
type Chooser struct {
	pinned  bool      // NP_RUNTIME named the runtime: no fallback
	cands   []Runtime // still to try, best first
	Why     string    // why the list starts where it does
	note    string    // added to the failure: why np did not simply use /nix
	Refused []Refusal // runtimes that failed here, in the order tried
}

// Refusal is a runtime that failed before its program started, and why.
type Refusal struct {
	Runtime Runtime
	Err     error
}

// All are np's runtimes in auto's order of preference.
func All(c *config.Config) []Runtime {
	dir := c.DataDir.Nix()
	return []Runtime{Native{}, nsRuntime{dir: dir}, ptraceRuntime{dir: dir, noSeccomp: c.PtraceNoSeccomp, noNotify: c.PtraceNoNotify}}
}

// New makes the chooser for c: the runtime NP_RUNTIME names, or for auto
// native where the host's /nix is usable, else ns, then ptrace.
func New(c *config.Config) (*Chooser, error) {
	all := All(c)
	ns, pt := all[1], all[2]
	ch := &Chooser{pinned: c.Runtime != config.Auto}
	switch c.Runtime {
	case config.Native:
		if ok, why := nativeUsable(); !ok {
			return nil, fmt.Errorf("NP_RUNTIME=native needs a writable /nix/store, but %s; unset NP_RUNTIME to let np choose", why)
		}
		if elsewhere, why := locationElsewhere(c); elsewhere {
			return nil, fmt.Errorf("NP_RUNTIME=native uses /nix, but %s; unset NP_RUNTIME to use that data dir, or NP_LOCATION to use /nix", why)
		}
		ch.cands, ch.Why = []Runtime{Native{}}, "NP_RUNTIME=native"
	case config.NS:
		ch.cands, ch.Why = []Runtime{ns}, "NP_RUNTIME=ns"
	case config.Ptrace:
		ch.cands, ch.Why = []Runtime{pt}, "NP_RUNTIME=ptrace"
	default:
		ok, why := nativeUsable()
		logrus.Tracef("auto: native Runtime usable=%v: %s", ok, why)
		elsewhere, whyNot := locationElsewhere(c)
		switch {
		case ok && elsewhere:
			// np inside np given another NP_LOCATION: the outer store is
			// /nix here, and must not be used silently.
			ch.cands, ch.Why = []Runtime{ns, pt}, whyNot+": its own namespace (nested inside np) or tracer"
			ch.note = "np does not use the writable /nix here because " + whyNot + ": unset NP_LOCATION to use /nix"
		case ok:
			ch.cands, ch.Why = []Runtime{Native{}}, why
		default:
			ch.cands, ch.Why = []Runtime{ns, pt}, "the host has no usable /nix: user namespaces first, then ptrace"
		}
	}
	return ch, nil
}

// Current is the runtime that will be tried next, or nil when none is left.
func (ch *Chooser) Current() Runtime {
	if len(ch.cands) == 0 {
		return nil
	}
	return ch.cands[0]
}

// refuse drops the current runtime after it failed before starting.
func (ch *Chooser) refuse(err error) {
	rt := ch.cands[0]
	ch.Refused = append(ch.Refused, Refusal{Runtime: rt, Err: err})
	ch.cands = ch.cands[1:]
	if len(ch.cands) > 0 {
		logrus.Debugf("runtime %s cannot start here (%v); trying %s", rt.Name(), err, ch.cands[0].Name())
	}
}

// Settle probes the candidates in order until one works and returns it.
// It runs where a late failure would be costly: before a first install.
func (ch *Chooser) Settle() (Runtime, error) {
	for rt := ch.Current(); rt != nil; rt = ch.Current() {
		err := rt.Check()
		if err == nil {
			return rt, nil
		}
		ch.refuse(err)
	}
	return nil, ch.failure()
}

// Start runs the job that mk makes for a runtime with the first runtime
// that can start it, falling back while runtimes fail before their program
// starts. last says it is np's last act (the user's program). It returns the
// runtime that ran the program.
func (ch *Chooser) Start(mk func(Runtime) (launch.Spec, error), last bool) (syscall.WaitStatus, Runtime, error) {
	for rt := ch.Current(); rt != nil; rt = ch.Current() {
		j, err := mk(rt)
		if err != nil && BeforeStart(err) {
			// Making the job ran something in rt first (the build-sandbox
			// probe) and rt could not start it.
			ch.refuse(err)
			continue
		}
		if err != nil {
			return 0, rt, err
		}
		var ws syscall.WaitStatus
		if last {
			ws, err = rt.Exec(j)
		} else {
			ws, err = rt.Run(j)
		}
		if err == nil || !BeforeStart(err) {
			return ws, rt, err
		}
		ch.refuse(err)
	}
	return 0, nil, ch.failure()
}

// failure is np's one line when no runtime is left: every cause, and the
// fix for each.
func (ch *Chooser) failure() error {
	var causes []string
	for _, r := range ch.Refused {
		_, detail := r.Runtime.Explain(r.Err)
		causes = append(causes, detail)
	}
	if ch.pinned && len(ch.Refused) == 1 {
		return &NoRuntimeError{fmt.Sprintf("the %s Runtime cannot start: %s; unset NP_RUNTIME to let np choose", ch.Refused[0].Runtime.Name(), causes[0])}
	}
	msg := "no Runtime works here: " + strings.Join(causes, "; and ")
	if ch.note != "" {
		msg += "; " + ch.note
	}
	return &NoRuntimeError{msg}
}

// NoRuntimeError: no runtime could start a program here. It is the whole
// message; callers do not wrap it.
type NoRuntimeError struct{ msg string }

func (e *NoRuntimeError) Error() string { return e.msg }
