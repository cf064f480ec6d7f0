package ptrace

import (
	"bytes"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

// memReader reads tracee memory with process_vm_readv, one call per page
// at most (a read may not cross into an unmapped page).
type memReader struct {
	buf [unix.PathMax]byte
}

// readString reads the NUL-terminated string at addr in tid's memory. ok
// is false when the kernel would fail the call itself: an unreadable
// address (EFAULT) or no NUL within PATH_MAX bytes (ENAMETOOLONG).
func (m *memReader) readString(tid int, addr uint64) (string, bool) {
	n := 0
	for n < len(m.buf) {
		chunk := pageSize - int((addr+uint64(n))%pageSize)
		if chunk > len(m.buf)-n {
			chunk = len(m.buf) - n
		}
		got, err := readMem(tid, addr+uint64(n), m.buf[n:n+chunk])
		if got <= 0 || err != nil && got == 0 {
			return "", false
		}
		if i := bytes.IndexByte(m.buf[n:n+got], 0); i >= 0 {
			return string(m.buf[:n+i]), true
		}
		n += got
	}
	return "", false
}

func readMem(tid int, addr uint64, b []byte) (int, error) {
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	return unix.ProcessVMReadv(tid, local, remote, 0)
}

// readFull reads exactly len(b) bytes at addr.
func readFull(tid int, addr uint64, b []byte) bool {
	for off := 0; off < len(b); {
		n, err := readMem(tid, addr+uint64(off), b[off:])
		if err != nil || n <= 0 {
			return false
		}
		off += n
	}
	return true
}

// readWord reads one 64-bit little-endian word.
func readWord(tid int, addr uint64) (uint64, bool) {
	var b [8]byte
	if !readFull(tid, addr, b[:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// writeMem writes b at addr with process_vm_writev, falling back to
// PTRACE_POKEDATA, which also reaches pages the process cannot write.
func writeMem(tid int, addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	n, err := unix.ProcessVMWritev(tid, local, remote, 0)
	if err == nil && n == len(b) {
		return nil
	}
	_, err = unix.PtracePokeData(tid, uintptr(addr), b)
	return err
}

// stackAlloc hands out tracee memory below the stack pointer (and its red
// zone) for strings the tracer writes: the syscall reads them before the
// tracee can run again, and the area is free by the ABI.
type stackAlloc struct {
	next uint64
}

func newStackAlloc(sp uint64) stackAlloc { return stackAlloc{next: sp - redZone} }

// put writes b (NUL-terminated by the caller where needed) and returns
// its address.
func (s *stackAlloc) put(tid int, b []byte) (uint64, error) {
	s.next = (s.next - uint64(len(b))) &^ 15
	if err := writeMem(tid, s.next, b); err != nil {
		return 0, err
	}
	return s.next, nil
}

func cstring(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}
