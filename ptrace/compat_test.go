package ptrace

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// compatProgram is a static 32-bit program for this architecture's compat
// entry point (i386 through int 0x80 on x86_64, AArch32 through svc on
// arm64), assembled here so that no 32-bit toolchain or package is
// needed: write(1, "compat\n", 7), exit(0), then an undefined instruction
// (SIGILL), which is where it goes when both calls fail with ENOSYS.
func compatProgram() []byte {
	const msg = "compat\n"
	var machine uint16
	var flags, base uint32
	var code []byte
	le := binary.LittleEndian
	switch runtime.GOARCH {
	case "amd64":
		machine, base = 3, 0x08048000 // EM_386
		msgAddr := base + 52 + 32 + 33
		code = []byte{0xb8, 4, 0, 0, 0, 0xbb, 1, 0, 0, 0, 0xb9}
		code = le.AppendUint32(code, msgAddr)
		code = append(code, 0xba, byte(len(msg)), 0, 0, 0, // mov edx, len
			0xcd, 0x80, // int 0x80: write
			0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80, // exit(0)
			0x0f, 0x0b) // ud2
	case "arm64":
		machine, flags, base = 40, 0x05000000, 0x00010000 // EM_ARM, EABI 5
		for _, insn := range []uint32{
			0xe3a07004, // mov r7, #4 (write)
			0xe3a00001, // mov r0, #1
			0xe28f1014, // add r1, pc, #20: msg, 9 instructions in
			0xe3a02000 | uint32(len(msg)),
			0xef000000, // svc #0
			0xe3a07001, // mov r7, #1 (exit)
			0xe3a00000, // mov r0, #0
			0xef000000, // svc #0
			0xe7f000f0, // udf #0
		} {
			code = le.AppendUint32(code, insn)
		}
	default:
		panic("compatProgram: no compat entry point known for " + runtime.GOARCH)
	}
	code = append(code, msg...)
	size := uint32(52 + 32 + len(code))
	b := []byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b = le.AppendUint16(b, 2) // ET_EXEC
	b = le.AppendUint16(b, machine)
	b = le.AppendUint32(b, 1)          // EV_CURRENT
	b = le.AppendUint32(b, base+52+32) // entry
	b = le.AppendUint32(b, 52)         // phoff
	b = le.AppendUint32(b, 0)          // shoff
	b = le.AppendUint32(b, flags)      // flags
	b = le.AppendUint16(b, 52)         // ehsize
	b = le.AppendUint16(b, 32)         // phentsize
	b = le.AppendUint16(b, 1)          // phnum
	b = append(b, 0, 0, 0, 0, 0, 0)    // shentsize, shnum, shstrndx
	b = le.AppendUint32(b, 1)          // PT_LOAD
	b = le.AppendUint32(b, 0)          // offset
	b = le.AppendUint32(b, base)       // vaddr
	b = le.AppendUint32(b, base)       // paddr
	b = le.AppendUint32(b, size)       // filesz
	b = le.AppendUint32(b, size)       // memsz
	b = le.AppendUint32(b, 5)          // PF_R|PF_X
	b = le.AppendUint32(b, 0x1000)     // align
	return append(b, code...)
}

// TestCompatCallsAreRefused: a 32-bit program's calls never reach the
// kernel untranslated. The filter refuses its arch (ENOSYS), and without
// a filter the tracer does (isCompat): it prints nothing and ends on its
// undefined instruction. Run natively first, it must print: that shows
// the kernel and CPU run such programs at all. Where they cannot (an
// arm64 CPU without AArch32 at EL0, a kernel without compat support)
// exec fails with ENOEXEC both natively and traced, and the test checks
// exactly that: nothing 32-bit runs there to be refused.
func TestCompatCallsAreRefused(t *testing.T) {
	f := getFixture(t)
	prog := filepath.Join(f.tmp, "compat32")
	if err := os.WriteFile(prog, compatProgram(), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(prog).Output()
	var pe *os.PathError
	if errors.As(err, &pe) && errors.Is(pe.Err, syscall.ENOEXEC) {
		// The subtest's name says, in the -test.v output of a VM run,
		// which of the two cases this host is.
		t.Run("host-runs-no-32-bit", func(t *testing.T) {
			t.Logf("natively: %v", err)
			modes(t, func(t *testing.T, noSeccomp bool) {
				r := traced(t, f.nix, noSeccomp, "/bin/busybox", "sh", "-c", prog+" || echo refused $?")
				if r.out == "compat\n" || r.out == "" {
					t.Errorf("traced exec of a 32-bit program on a host without them: stdout %q (stderr %q)", r.out, r.errOut)
				}
			})
		})
		return
	}
	var ee *exec.ExitError
	if os.Getenv(refusedEnv) != "" && len(out) == 0 && errors.As(err, &ee) &&
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGILL {
		// Under a filter of the tests' own (NP_PTRACE_TEST_REFUSE) that
		// refuses 32-bit calls itself, as an engine's profile compiled for
		// the native architecture only does: traced, they stay refused.
		t.Run("filter-refuses-32-bit", func(t *testing.T) {
			modes(t, func(t *testing.T, noSeccomp bool) {
				if r := traced(t, f.nix, noSeccomp, prog); r.out != "" {
					t.Errorf("traced 32-bit program printed %q under a filter refusing its calls", r.out)
				}
			})
		})
		return
	}
	if err != nil || string(out) != "compat\n" {
		t.Fatalf("natively, the 32-bit program printed %q (%v), want \"compat\\n\"", out, err)
	}
	t.Run("host-runs-32-bit", func(t *testing.T) {
		modes(t, func(t *testing.T, noSeccomp bool) {
			r := traced(t, f.nix, noSeccomp, prog)
			if r.out != "" || !r.ws.Signaled() || r.ws.Signal() != syscall.SIGILL {
				t.Errorf("traced 32-bit program: stdout %q, status %v; want no output and SIGILL (its calls refused)", r.out, r.ws)
			}
		})
	})
}
