package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/np-portable/np/internal/storepath"
)

// stageTwo stages a library path and a program path referring to it and to
// itself, as mkpayload does, with the given library content.
func stageTwo(t *testing.T, libContent string) (lib, prog *storePath) {
	t.Helper()
	dir := t.TempDir()
	c := &config{storeDir: dir, debsHash: "same-debs"}
	lib, err := c.newPath("lib-1")
	if err != nil {
		t.Fatal(err)
	}
	prog, err = c.newPath("prog-1")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(lib.dir, "lib.so"), []byte(libContent), 0o444)
	os.WriteFile(filepath.Join(prog.dir, "prog"), []byte("rpath="+lib.full()+" self="+prog.full()), 0o555)
	os.Symlink(prog.full()+"/prog", filepath.Join(prog.dir, "alias"))
	if err := contentAddress([]*storePath{lib, prog}); err != nil {
		t.Fatal(err)
	}
	return lib, prog
}

func TestStorePathNamesDeriveFromContent(t *testing.T) {
	lib1, prog1 := stageTwo(t, "version one")
	lib2, prog2 := stageTwo(t, "version two")
	again, progAgain := stageTwo(t, "version one")
	if lib1.base() == lib2.base() {
		t.Errorf("two libraries with different contents share the name %s", lib1.base())
	}
	if prog1.base() == prog2.base() {
		t.Errorf("programs referring to different libraries share the name %s", prog1.base())
	}
	if again.base() != lib1.base() || progAgain.base() != prog1.base() {
		t.Errorf("the same contents got different names: %s %s vs %s %s", again.base(), progAgain.base(), lib1.base(), prog1.base())
	}
	// References and self-references now use the final names.
	b, _ := os.ReadFile(filepath.Join(prog1.dir, "prog"))
	if want := "rpath=" + lib1.full() + " self=" + prog1.full(); string(b) != want {
		t.Errorf("program content %q, want %q", b, want)
	}
	if l, _ := os.Readlink(filepath.Join(prog1.dir, "alias")); l != prog1.full()+"/prog" {
		t.Errorf("link target %q not rewritten to the final name", l)
	}
	info, err := storepath.Scan(prog1.dir, []string{lib1.provisional, prog1.provisional})
	if err != nil || len(info.Refs) != 0 {
		t.Errorf("provisional hash parts left in the program: %v %v", info.Refs, err)
	}
}
