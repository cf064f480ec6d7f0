package bpf

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLabelsAndInterpreter(t *testing.T) {
	var p Program
	p.LoadArch()
	p.JumpIfNot(7, "kill")
	p.LoadNr()
	p.JumpIfAtLeast(100, "high")
	p.JumpIf(5, "five")
	p.Jump("allow")
	p.Label("high")
	p.LoadArgLow(1)
	p.JumpIfAnyBit(0x10, "five")
	p.JumpIfAbove(3, "kill")
	p.Label("allow")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("five")
	p.Return(unix.SECCOMP_RET_TRACE)
	p.Label("kill")
	p.Return(unix.SECCOMP_RET_KILL_PROCESS)
	prog, err := p.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		d    Data
		want uint32
	}{
		{Data{Arch: 8, Nr: 5}, unix.SECCOMP_RET_KILL_PROCESS},
		{Data{Arch: 7, Nr: 5}, unix.SECCOMP_RET_TRACE},
		{Data{Arch: 7, Nr: 6}, unix.SECCOMP_RET_ALLOW},
		{Data{Arch: 7, Nr: 100, Args: [6]uint64{0, 0x10}}, unix.SECCOMP_RET_TRACE},
		{Data{Arch: 7, Nr: 100, Args: [6]uint64{0, 2}}, unix.SECCOMP_RET_ALLOW},
		{Data{Arch: 7, Nr: 100, Args: [6]uint64{0, 4}}, unix.SECCOMP_RET_KILL_PROCESS},
		{Data{Arch: 7, Nr: -1}, unix.SECCOMP_RET_ALLOW}, // -1 is 0xffffffff >= 100, arg 0 → allow
	}
	for _, c := range cases {
		got, err := Run(prog, c.d)
		if err != nil || got != c.want {
			t.Errorf("Run(%+v) = %#x, %v; want %#x", c.d, got, err, c.want)
		}
	}
}

func TestAssembleRejectsUnknownAndBackwardLabels(t *testing.T) {
	var p Program
	p.JumpIf(1, "nowhere")
	if _, err := p.Assemble(); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("unknown label: got %v", err)
	}
	var q Program
	q.Label("back")
	q.Jump("back")
	if _, err := q.Assemble(); err == nil || !strings.Contains(err.Error(), "behind") {
		t.Errorf("backward jump: got %v", err)
	}
}

func TestAssembleRejectsFarConditionalJumps(t *testing.T) {
	var p Program
	p.JumpIf(1, "far")
	for i := 0; i < 300; i++ {
		p.Return(0)
	}
	p.Label("far")
	p.Return(0)
	if _, err := p.Assemble(); err == nil || !strings.Contains(err.Error(), "reach") {
		t.Errorf("got %v", err)
	}
}

func TestRunRejectsRunningOffTheEnd(t *testing.T) {
	var p Program
	p.LoadNr()
	prog, _ := p.Assemble()
	if _, err := Run(prog, Data{}); err == nil {
		t.Error("no error for a program without a return")
	}
}

func TestAndMasksTheAccumulator(t *testing.T) {
	var p Program
	p.LoadArgLow(0)
	p.And(0x0f00)
	p.JumpIf(0x0300, "yes")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("yes")
	p.Return(unix.SECCOMP_RET_TRACE)
	prog, err := p.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[uint64]uint32{0x1234: unix.SECCOMP_RET_ALLOW, 0xf3ff: unix.SECCOMP_RET_TRACE, 0x0300: unix.SECCOMP_RET_TRACE, 0x0700: unix.SECCOMP_RET_ALLOW} {
		if got, err := Run(prog, Data{Args: [6]uint64{arg}}); err != nil || got != want {
			t.Errorf("arg %#x: %#x, %v; want %#x", arg, got, err, want)
		}
	}
}

// TestJumpReachesFarLabels: a conditional jump reaches 255 instructions;
// one over an unconditional Jump reaches any distance.
func TestJumpReachesFarLabels(t *testing.T) {
	var p Program
	p.LoadNr()
	p.JumpIfNot(1, "near")
	p.Jump("far")
	p.Label("near")
	p.Return(unix.SECCOMP_RET_ALLOW)
	for i := 0; i < 1000; i++ {
		p.Return(0)
	}
	p.Label("far")
	p.Return(unix.SECCOMP_RET_TRACE)
	prog, err := p.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Run(prog, Data{Nr: 1}); got != unix.SECCOMP_RET_TRACE {
		t.Errorf("nr 1: %#x, want the far verdict", got)
	}
	if got, _ := Run(prog, Data{Nr: 2}); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("nr 2: %#x, want the near verdict", got)
	}
}
