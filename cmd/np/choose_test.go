package main

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/nsbox"
)

// scriptedRuntime is a runtime whose outcomes a test sets: the chooser's
// logic is what is under test here, the real runtimes have their own.
type scriptedRuntime struct {
	n       runtimeName
	startOK bool // false: fails before the program starts
	ran     *[]runtimeName
}

func (r scriptedRuntime) name() runtimeName  { return r.n }
func (r scriptedRuntime) nixDir() string     { return "/d" }
func (r scriptedRuntime) buildSandbox() bool { return false }
func (r scriptedRuntime) check() error       { return r.err() }
func (r scriptedRuntime) explain(err error) (string, string) {
	return "scripted", string(r.n) + " refused: " + err.Error()
}
func (r scriptedRuntime) err() error {
	if r.startOK {
		return nil
	}
	return &nsbox.SetupError{Step: "creating user namespace", Err: syscall.EPERM}
}
func (r scriptedRuntime) run(j launch.Spec) (syscall.WaitStatus, error) {
	*r.ran = append(*r.ran, r.n)
	return exitStatus(7), r.err()
}
func (r scriptedRuntime) exec(j launch.Spec) (syscall.WaitStatus, error) { return r.run(j) }

func TestChooserFallsBackOnlyBeforeTheProgramStarts(t *testing.T) {
	var ran []runtimeName
	ch := &chooser{cands: []runtime{
		scriptedRuntime{n: runtimeNS, ran: &ran},
		scriptedRuntime{n: runtimePtrace, startOK: true, ran: &ran},
	}}
	ws, rt, err := ch.start(func(runtime) (launch.Spec, error) { return launch.Spec{}, nil }, true)
	if err != nil || rt.name() != runtimePtrace || ws.ExitStatus() != 7 {
		t.Fatalf("start: %v via %v status %v", err, rt, ws)
	}
	if len(ran) != 2 || len(ch.refused) != 1 {
		t.Fatalf("tried %v, refused %d", ran, len(ch.refused))
	}
}

func TestChooserFallsBackWhenMakingTheJobFailedBeforeStart(t *testing.T) {
	var ran []runtimeName
	ch := &chooser{cands: []runtime{
		scriptedRuntime{n: runtimeNS, ran: &ran},
		scriptedRuntime{n: runtimePtrace, startOK: true, ran: &ran},
	}}
	// The job of ns needs a probe run in ns first, which ns cannot start.
	mk := func(rt runtime) (launch.Spec, error) {
		if rt.name() == runtimeNS {
			return launch.Spec{}, rt.(scriptedRuntime).err()
		}
		return launch.Spec{}, nil
	}
	if _, rt, err := ch.start(mk, true); err != nil || rt.name() != runtimePtrace {
		t.Fatalf("start: %v via %v", err, rt)
	}
	// Any other failure making the job is final.
	ch = &chooser{cands: []runtime{scriptedRuntime{n: runtimeNS, startOK: true, ran: &ran}}}
	boom := errors.New("boom")
	if _, _, err := ch.start(func(runtime) (launch.Spec, error) { return launch.Spec{}, boom }, true); !errors.Is(err, boom) {
		t.Fatalf("start: %v, want boom", err)
	}
}

func TestChooserNamesEveryCauseWhenNoneWorks(t *testing.T) {
	var ran []runtimeName
	ch := &chooser{cands: []runtime{
		scriptedRuntime{n: runtimeNS, ran: &ran},
		scriptedRuntime{n: runtimePtrace, ran: &ran},
	}}
	_, _, err := ch.start(func(runtime) (launch.Spec, error) { return launch.Spec{}, nil }, true)
	var none *noRuntimeError
	if !errors.As(err, &none) || !strings.Contains(err.Error(), "ns refused") || !strings.Contains(err.Error(), "ptrace refused") {
		t.Fatalf("error %q does not name both causes", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
	// Pinned: its one cause and how to let np choose.
	ch = &chooser{pinned: true, cands: []runtime{scriptedRuntime{n: runtimeNS, ran: &ran}}}
	if _, err := ch.settle(); err == nil || !strings.Contains(err.Error(), "unset NP_RUNTIME") {
		t.Fatalf("pinned failure %q", err)
	}
}
