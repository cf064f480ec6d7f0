package ptrace

import (
	"bytes"
	"encoding/binary"
	"errors"

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

// memVia is how readMem and writeMem reach tracee memory; run sets it
// from hostCallsHere before the first tracee runs.
var memVia = memVM

func readMem(tid int, addr uint64, b []byte) (int, error) {
	switch memVia {
	case memFile:
		return procMemIO(tid, addr, b, false)
	case memPeek:
		return unix.PtracePeekData(tid, uintptr(addr), b)
	}
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

// procMemIO reads or writes tid's memory through /proc/<tid>/mem, opened
// for this access only: an exec gives the process a new address space,
// which an fd opened before it no longer reaches.
func procMemIO(tid int, addr uint64, b []byte, write bool) (int, error) {
	flags := unix.O_RDONLY
	if write {
		flags = unix.O_WRONLY
	}
	fd, err := unix.Open(procMemPath(tid), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if write {
		return unix.Pwrite(fd, b, int64(addr))
	}
	return unix.Pread(fd, b, int64(addr))
}

// writeMem writes b at addr with process_vm_writev, falling back to
// PTRACE_POKEDATA, which also reaches pages the process cannot write
// (as do writes to /proc/<pid>/mem).
func writeMem(tid int, addr uint64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch memVia {
	case memFile:
		n, err := procMemIO(tid, addr, b, true)
		if err == nil && n != len(b) {
			err = unix.EIO
		}
		return err
	case memPeek:
		_, err := unix.PtracePokeData(tid, uintptr(addr), b)
		return err
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

// Strings the tracer writes into a tracee (translated paths, a new argv)
// go to a scratch area the tracer maps into each address space with an
// injected mmap, one slot per thread: the syscall reads them before the
// thread runs again, and no program memory is touched. Writing below the
// stack pointer instead, as proot does, is unsafe for Go programs, whose
// goroutine stacks may end a few hundred bytes below it. Only when the
// scratch area cannot be mapped, or a thread finds no free slot, does the
// tracer fall back to the stack (below the red zone).
const (
	scratchSlots    = 64
	scratchSlotSize = 32 << 10
	scratchSize     = scratchSlots * scratchSlotSize
	// A rewritten path goes to the next of a thread's scratchChunks chunks
	// of its slot, in turn: the pointer the tracer put in the register
	// stays valid for the next scratchChunks-1 rewrites of the thread, so
	// a call the kernel restarts after a signal handler (which may make
	// calls of its own) still finds its path. That is what lets the
	// tracer leave the register as it is after the call instead of
	// stopping again to restore it (see enterPaths).
	scratchChunks    = 4
	scratchChunkSize = scratchSlotSize / scratchChunks
)

// errNoRoom: the strings do not fit the thread's slot.
var errNoRoom = errors.New("no room in the scratch slot")

// alloc hands out tracee memory downwards from next, not below low (0:
// the stack, no bound).
type alloc struct {
	tid       int
	next, low uint64
}

func stackArea(tid int, sp uint64) alloc { return alloc{tid: tid, next: sp - redZone} }

// put writes b and returns its address.
func (a *alloc) put(b []byte) (uint64, error) {
	next := (a.next - uint64(len(b))) &^ 15
	if a.low != 0 && (next < a.low || next > a.next) {
		return 0, errNoRoom
	}
	if err := writeMem(a.tid, next, b); err != nil {
		return 0, err
	}
	a.next = next
	return next, nil
}

func cstring(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// scratch is a process's scratch area (see alloc).
type scratch struct {
	addr   uint64 // 0: not mapped yet
	failed bool   // the mmap failed: use the stack
	next   int    // next slot never handed out
	free   []int  // slots of threads that ended
}

// record takes the injected mmap's result: the area's address, or that
// the process has none (the tracer then writes below the stack pointer).
func (sc *scratch) record(res int64) {
	if res < 0 && res > -4096 {
		sc.failed = true
	} else {
		sc.addr = uint64(res)
	}
}
