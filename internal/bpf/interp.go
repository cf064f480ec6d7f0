package bpf

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Data is the seccomp_data a filter sees for one system call.
type Data struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// bytes lays d out as struct seccomp_data (little-endian).
func (d Data) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[OffNr:], uint32(d.Nr))
	binary.LittleEndian.PutUint32(b[OffArch:], d.Arch)
	binary.LittleEndian.PutUint64(b[OffIP:], d.IP)
	for i, a := range d.Args {
		binary.LittleEndian.PutUint64(b[OffArgs+8*i:], a)
	}
	return b
}

// Run interprets prog on d the way the kernel would and returns the
// verdict. It knows the instructions seccomp filters use (absolute word
// loads, AND with a constant, constant jumps, returns); anything else is
// an error, as is running off the end or reading outside seccomp_data.
func Run(prog []unix.SockFilter, d Data) (uint32, error) {
	data := d.bytes()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || int(in.K)+4 > len(data) {
				return 0, fmt.Errorf("instruction %d: load at offset %d outside seccomp_data", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			pc += branch(a == in.K, in)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			pc += branch(a >= in.K, in)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			pc += branch(a > in.K, in)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			pc += branch(a&in.K != 0, in)
		case unix.BPF_RET | unix.BPF_K:
			return in.K, nil
		default:
			return 0, fmt.Errorf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	return 0, fmt.Errorf("program ran off its end")
}

func branch(cond bool, in unix.SockFilter) int {
	if cond {
		return int(in.Jt)
	}
	return int(in.Jf)
}
