package execplan

import (
	"debug/elf"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseShebang: a #! line splits as the kernel splits it: the first
// word, then the rest of the line as one argument.
func TestParseShebang(t *testing.T) {
	for line, want := range map[string][2]string{
		"#!/bin/sh\n":                   {"/bin/sh", ""},
		"#! /usr/bin/env  python3 -u\n": {"/usr/bin/env", "python3 -u"},
		"#!/bin/bash -e \t\necho":       {"/bin/bash", "-e"},
		"#!prog":                        {"prog", ""},
	} {
		interp, opt, ok := ParseShebang([]byte(line))
		if !ok || interp != want[0] || opt != want[1] {
			t.Errorf("%q: %q %q %v, want %q %q", line, interp, opt, ok, want[0], want[1])
		}
	}
	for _, line := range []string{"#!\n", "#!  \t\n"} {
		if _, _, ok := ParseShebang([]byte(line)); ok {
			t.Errorf("%q: an interpreter found in an empty #! line", line)
		}
	}
}

// TestELFInterpAgreesWithDebugElf: the interpreter found in a program's
// first bytes is the one Go's ELF reader finds, for a dynamic program of
// the host and for a static one (none).
func TestELFInterpAgreesWithDebugElf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, prog := range []string{"/bin/sh", self} {
		f, err := elf.Open(prog)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					t.Fatal(err)
				}
				want = strings.TrimRight(string(b), "\x00")
			}
		}
		f.Close()
		if prog == "/bin/sh" && want == "" {
			t.Fatal("/bin/sh is static here: no interpreter to compare")
		}
		var st unix.Stat_t
		if err := unix.Stat(prog, &st); err != nil {
			t.Fatal(err)
		}
		var c HeaderCache
		hdr, err := c.Get(prog, &st)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := ELFInterp(prog, hdr); !ok || got != want {
			t.Errorf("%s: interpreter %q (%v), debug/elf says %q", prog, got, ok, want)
		}
	}
}
