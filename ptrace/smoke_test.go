package ptrace

import (
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	nix := t.TempDir()
	os.WriteFile(nix+"/hello", []byte("hi\n"), 0o644)
	for _, noSec := range []bool{false, true} {
		r := traced(t, nix, noSec, "/bin/busybox", "cat", "/nix/hello")
		t.Logf("noSeccomp=%v out=%q err=%q ws=%v", noSec, r.out, r.errOut, r.ws)
	}
}
