package symlink

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	link := filepath.Join(t.TempDir(), "l")
	for _, target := range []string{"/a", "/b", "/b"} {
		if err := Replace(target, link); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.Readlink(link); got != target {
			t.Fatalf("link points at %q, want %q", got, target)
		}
	}
}
