package hostile

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data.
const (
	offNr      = 0
	offArch    = 4
	offArg0Low = 16 // low 32 bits of args[0] (little-endian)
)

// program is a classic BPF program under construction. Jumps name labels;
// assemble turns them into offsets, so nobody counts instructions by hand.
type program struct {
	insns  []insn
	labels map[string]int
}

type insn struct {
	code   uint16
	k      uint32
	jt, jf string // labels; "" = next instruction
}

func (p *program) add(i insn) { p.insns = append(p.insns, i) }

func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insns)
}

func (p *program) load(off uint32) {
	p.add(insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}
func (p *program) loadNr()      { p.load(offNr) }
func (p *program) loadArch()    { p.load(offArch) }
func (p *program) loadArg0Low() { p.load(offArg0Low) }

// jumpIf jumps to label when A == k.
func (p *program) jumpIf(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jt: label})
}

// jumpIfNot jumps to label when A != k.
func (p *program) jumpIfNot(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jf: label})
}

// jumpIfAnyBit jumps to label when A & k != 0.
func (p *program) jumpIfAnyBit(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, k: k, jt: label})
}

func (p *program) ret(k uint32) { p.add(insn{code: unix.BPF_RET | unix.BPF_K, k: k}) }

// assemble resolves labels into forward jump offsets.
func (p *program) assemble() ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(p.insns))
	for i, in := range p.insns {
		jt, err := p.offset(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := p.offset(i, in.jf)
		if err != nil {
			return nil, err
		}
		out[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return out, nil
}

func (p *program) offset(from int, label string) (uint8, error) {
	if label == "" {
		return 0, nil
	}
	to, ok := p.labels[label]
	if !ok {
		return 0, fmt.Errorf("instruction %d: no label %q", from, label)
	}
	d := to - from - 1
	if d < 0 || d > 255 {
		return 0, fmt.Errorf("instruction %d: label %q is %d instructions away, out of a jump's reach", from, label, d)
	}
	return uint8(d), nil
}
