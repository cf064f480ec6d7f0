package runtimes

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// scriptedRuntime is a runtime whose outcomes a test sets: the chooser's
// logic is what is under test here, the real runtimes have their own.
type scriptedRuntime struct {
	n       config.RuntimeName
	startOK bool // false: fails before the program starts
	ran     *[]config.RuntimeName
}

func (r scriptedRuntime) Name() config.RuntimeName { return r.n }
func (r scriptedRuntime) NixDir() string           { return "/d" }
func (r scriptedRuntime) BuildSandbox() bool       { return false }
func (r scriptedRuntime) Check() error             { return r.err() }
func (r scriptedRuntime) Explain(err error) (string, string) {
	return "scripted", string(r.n) + " refused: " + err.Error()
}
func (r scriptedRuntime) err() error {
	if r.startOK {
		return nil
	}
	return &launch.SetupError{Step: "creating user namespace", Err: syscall.EPERM}
}
func (r scriptedRuntime) Run(j launch.Spec) (syscall.WaitStatus, error) {
	*r.ran = append(*r.ran, r.n)
	return proc.ExitStatus(7), r.err()
}
func (r scriptedRuntime) Exec(j launch.Spec) (syscall.WaitStatus, error) { return r.Run(j) }

func TestChooserFallsBackOnlyBeforeTheProgramStarts(t *testing.T) {
	var ran []config.RuntimeName
	ch := &Chooser{cands: []Runtime{
		scriptedRuntime{n: config.NS, ran: &ran},
		scriptedRuntime{n: config.Ptrace, startOK: true, ran: &ran},
	}}
	ws, rt, err := ch.Start(func(Runtime) (launch.Spec, error) { return launch.Spec{}, nil }, true)
	if err != nil || rt.Name() != config.Ptrace || ws.ExitStatus() != 7 {
		t.Fatalf("start: %v via %v status %v", err, rt, ws)
	}
	if len(ran) != 2 || len(ch.Refused) != 1 {
		t.Fatalf("tried %v, refused %d", ran, len(ch.Refused))
	}
}

func TestChooserFallsBackWhenMakingTheJobFailedBeforeStart(t *testing.T) {
	var ran []config.RuntimeName
	ch := &Chooser{cands: []Runtime{
		scriptedRuntime{n: config.NS, ran: &ran},
		scriptedRuntime{n: config.Ptrace, startOK: true, ran: &ran},
	}}
	// The job of ns needs a probe run in ns first, which ns cannot start.
	mk := func(rt Runtime) (launch.Spec, error) {
		if rt.Name() == config.NS {
			return launch.Spec{}, rt.(scriptedRuntime).err()
		}
		return launch.Spec{}, nil
	}
	if _, rt, err := ch.Start(mk, true); err != nil || rt.Name() != config.Ptrace {
		t.Fatalf("start: %v via %v", err, rt)
	}
	// Any other failure making the job is final.
	ch = &Chooser{cands: []Runtime{scriptedRuntime{n: config.NS, startOK: true, ran: &ran}}}
	boom := errors.New("boom")
	if _, _, err := ch.Start(func(Runtime) (launch.Spec, error) { return launch.Spec{}, boom }, true); !errors.Is(err, boom) {
		t.Fatalf("start: %v, want boom", err)
	}
}

func TestChooserNamesEveryCauseWhenNoneWorks(t *testing.T) {
	var ran []config.RuntimeName
	ch := &Chooser{cands: []Runtime{
		scriptedRuntime{n: config.NS, ran: &ran},
		scriptedRuntime{n: config.Ptrace, ran: &ran},
	}}
	_, _, err := ch.Start(func(Runtime) (launch.Spec, error) { return launch.Spec{}, nil }, true)
	var none *NoRuntimeError
	if !errors.As(err, &none) || !strings.Contains(err.Error(), "ns refused") || !strings.Contains(err.Error(), "ptrace refused") {
		t.Fatalf("error %q does not name both causes", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error is not one line: %q", err)
	}
	// Pinned: its one cause and how to let np choose.
	ch = &Chooser{pinned: true, cands: []Runtime{scriptedRuntime{n: config.NS, ran: &ran}}}
	if _, err := ch.Settle(); err == nil || !strings.Contains(err.Error(), "unset NP_RUNTIME") {
		t.Fatalf("pinned failure %q", err)
	}
}
