package plainfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReadFileReadsWhatIsThere(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 4095, 70000} {
		want := bytes.Repeat([]byte("np"), size)[:size]
		file := filepath.Join(dir, "f")
		os.WriteFile(file, want, 0o644)
		got, err := ReadFile(file)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read %d bytes, %v", size, len(got), err)
		}
	}
	// A file whose size stat does not know (procfs says 0).
	got, err := ReadFile("/proc/self/status")
	if err != nil || !bytes.Contains(got, []byte("Name:")) {
		t.Fatalf("/proc/self/status: %q, %v", got, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
	}
}
