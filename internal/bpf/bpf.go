// Package bpf assembles classic BPF programs for seccomp filters and runs
// them in userspace for tests. Jumps name labels; Assemble turns them into
// offsets, so nobody counts instructions by hand.
package bpf

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data (little-endian hosts).
const (
	OffNr   = 0
	OffArch = 4
	OffIP   = 8
	OffArgs = 16 // args[i] at OffArgs + 8*i; the low 32 bits come first
)

// Program is a classic BPF program under construction.
type Program struct {
	insns  []insn
	labels map[string]int
}

type insn struct {
	code   uint16
	k      uint32
	jt, jf string // labels; "" = next instruction
}

func (p *Program) add(i insn) { p.insns = append(p.insns, i) }

// Label names the position of the next instruction.
func (p *Program) Label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insns)
}

// Load loads the 32-bit word at offset off of seccomp_data into A.
func (p *Program) Load(off uint32) {
	p.add(insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

// LoadNr loads the system call number.
func (p *Program) LoadNr() { p.Load(OffNr) }

// LoadArch loads the AUDIT_ARCH_* value.
func (p *Program) LoadArch() { p.Load(OffArch) }

// LoadArgLow loads the low 32 bits of argument i.
func (p *Program) LoadArgLow(i int) { p.Load(uint32(OffArgs + 8*i)) }

// LoadArgHigh loads the high 32 bits of argument i.
func (p *Program) LoadArgHigh(i int) { p.Load(uint32(OffArgs + 8*i + 4)) }

// JumpIf jumps to label when A == k.
func (p *Program) JumpIf(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jt: label})
}

// JumpIfNot jumps to label when A != k.
func (p *Program) JumpIfNot(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: k, jf: label})
}

// JumpIfAtLeast jumps to label when A >= k (unsigned).
func (p *Program) JumpIfAtLeast(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, k: k, jt: label})
}

// JumpIfAbove jumps to label when A > k (unsigned).
func (p *Program) JumpIfAbove(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, k: k, jt: label})
}

// JumpIfAnyBit jumps to label when A & k != 0.
func (p *Program) JumpIfAnyBit(k uint32, label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, k: k, jt: label})
}

// And sets A to A & k, so a jump can then compare only some bits.
func (p *Program) And(k uint32) {
	p.add(insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

// Jump jumps to label unconditionally. Its offset is 32 bits wide, so it
// reaches where a conditional jump (8 bits, at most 255 instructions)
// cannot: a long program jumps far with JumpIfNot over a Jump.
func (p *Program) Jump(label string) {
	p.add(insn{code: unix.BPF_JMP | unix.BPF_JA, jt: label})
}

// Return ends the program with verdict k.
func (p *Program) Return(k uint32) { p.add(insn{code: unix.BPF_RET | unix.BPF_K, k: k}) }

// Assemble resolves labels into forward jump offsets.
func (p *Program) Assemble() ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, len(p.insns))
	for i, in := range p.insns {
		if in.code == unix.BPF_JMP|unix.BPF_JA {
			to, ok := p.labels[in.jt]
			if !ok {
				return nil, fmt.Errorf("instruction %d: no label %q", i, in.jt)
			}
			if to <= i {
				return nil, fmt.Errorf("instruction %d: label %q is behind it (BPF jumps only forward)", i, in.jt)
			}
			out[i] = unix.SockFilter{Code: in.code, K: uint32(to - i - 1)}
			continue
		}
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

func (p *Program) offset(from int, label string) (uint8, error) {
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
