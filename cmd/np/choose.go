package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/np-portable/np/internal/launch"
	"github.com/sirupsen/logrus"
)

// chooser is the one place that decides which runtime runs a program; every
// run, the first install's probe and np doctor go through it.
//
// For NP_RUNTIME=auto the candidates are native when the host's /nix is
// usable, else ns, then ptrace. A runtime that fails before the program
// starts (a refused user namespace, a refused tracer) is dropped and the
// next one is tried; a failure after the program started is final, because
// the program may already have done something. Nothing is cached between
// runs: the order is re-made every time, so a host that changes never
// strands anyone.
type chooser struct {
	pinned  bool      // NP_RUNTIME named the runtime: no fallback
	cands   []runtime // still to try, best first
	why     string    // why the list starts where it does
	note    string    // added to the failure: why np did not simply use /nix
	refused []refusal // runtimes that failed here, in the order tried
}

// refusal is a runtime that failed before its program started, and why.
type refusal struct {
	rt  runtime
	err error
}

// allRuntimes are np's runtimes in auto's order of preference.
func allRuntimes(c *config) []runtime {
	dir := filepath.Join(c.DataDir, "nix")
	return []runtime{nativeRuntime{}, nsRuntime{dir: dir}, ptraceRuntime{dir: dir, noSeccomp: c.PtraceNoSeccomp, noNotify: c.PtraceNoNotify}}
}

func newChooser(c *config) (*chooser, error) {
	all := allRuntimes(c)
	ns, pt := all[1], all[2]
	ch := &chooser{pinned: c.Runtime != runtimeAuto}
	switch c.Runtime {
	case runtimeNative:
		if ok, why := nativeUsable(); !ok {
			return nil, fmt.Errorf("NP_RUNTIME=native needs a writable /nix/store, but %s; unset NP_RUNTIME to let np choose", why)
		}
		if elsewhere, why := locationElsewhere(c); elsewhere {
			return nil, fmt.Errorf("NP_RUNTIME=native uses /nix, but %s; unset NP_RUNTIME to use that data dir, or NP_LOCATION to use /nix", why)
		}
		ch.cands, ch.why = []runtime{nativeRuntime{}}, "NP_RUNTIME=native"
	case runtimeNS:
		ch.cands, ch.why = []runtime{ns}, "NP_RUNTIME=ns"
	case runtimePtrace:
		ch.cands, ch.why = []runtime{pt}, "NP_RUNTIME=ptrace"
	default:
		ok, why := nativeUsable()
		logrus.Tracef("auto: native runtime usable=%v: %s", ok, why)
		elsewhere, whyNot := locationElsewhere(c)
		switch {
		case ok && elsewhere:
			// np inside np given another NP_LOCATION: the outer store is
			// /nix here, and must not be used silently.
			ch.cands, ch.why = []runtime{ns, pt}, whyNot+": its own namespace (nested inside np) or tracer"
			ch.note = "np does not use the writable /nix here because " + whyNot + ": unset NP_LOCATION to use /nix"
		case ok:
			ch.cands, ch.why = []runtime{nativeRuntime{}}, why
		default:
			ch.cands, ch.why = []runtime{ns, pt}, "the host has no usable /nix: user namespaces first, then ptrace"
		}
	}
	return ch, nil
}

// current is the runtime that will be tried next, or nil when none is left.
func (ch *chooser) current() runtime {
	if len(ch.cands) == 0 {
		return nil
	}
	return ch.cands[0]
}

// refuse drops the current runtime after it failed before starting.
func (ch *chooser) refuse(err error) {
	rt := ch.cands[0]
	ch.refused = append(ch.refused, refusal{rt: rt, err: err})
	ch.cands = ch.cands[1:]
	if len(ch.cands) > 0 {
		logrus.Debugf("runtime %s cannot start here (%v); trying %s", rt.name(), err, ch.cands[0].name())
	}
}

// settle probes the candidates in order until one works and returns it.
// It runs where a late failure would be costly: before a first install.
func (ch *chooser) settle() (runtime, error) {
	for rt := ch.current(); rt != nil; rt = ch.current() {
		err := rt.check()
		if err == nil {
			return rt, nil
		}
		ch.refuse(err)
	}
	return nil, ch.failure()
}

// start runs the job that mk makes for a runtime with the first runtime
// that can start it, falling back while runtimes fail before their program
// starts. last says it is np's last act (the user's program). It returns the
// runtime that ran the program.
func (ch *chooser) start(mk func(runtime) (launch.Spec, error), last bool) (syscall.WaitStatus, runtime, error) {
	for rt := ch.current(); rt != nil; rt = ch.current() {
		j, err := mk(rt)
		if err != nil && beforeStart(err) {
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
			ws, err = rt.exec(j)
		} else {
			ws, err = rt.run(j)
		}
		if err == nil || !beforeStart(err) {
			return ws, rt, err
		}
		ch.refuse(err)
	}
	return 0, nil, ch.failure()
}

// failure is np's one line when no runtime is left: every cause, and the
// fix for each.
func (ch *chooser) failure() error {
	var causes []string
	for _, r := range ch.refused {
		_, detail := r.rt.explain(r.err)
		causes = append(causes, detail)
	}
	if ch.pinned && len(ch.refused) == 1 {
		return &noRuntimeError{fmt.Sprintf("the %s runtime cannot start: %s; unset NP_RUNTIME to let np choose", ch.refused[0].rt.name(), causes[0])}
	}
	msg := "no runtime works here: " + strings.Join(causes, "; and ")
	if ch.note != "" {
		msg += "; " + ch.note
	}
	return &noRuntimeError{msg}
}

// noRuntimeError: no runtime could start a program here. It is the whole
// message; callers do not wrap it.
type noRuntimeError struct{ msg string }

func (e *noRuntimeError) Error() string { return e.msg }
