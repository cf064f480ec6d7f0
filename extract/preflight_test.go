package extract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Nix directory whose path leaves no room for np's own files is refused
// by the install before anything is written, and by Preflight.
func TestTooLongNixDirIsRefusedBeforeUnpacking(t *testing.T) {
	p, err := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	base := t.TempDir()
	dir := base
	for len(dir) < 3936-256 {
		dir = filepath.Join(dir, strings.Repeat("d", 250))
	}
	tg := Target{NixDir: filepath.Join(dir, strings.Repeat("e", 3936-len(dir)-1))}
	var unusable *UnusableError
	if err := tg.Preflight(p); !errors.As(err, &unusable) || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("Preflight of a %d-character Nix directory: %v", len(tg.NixDir), err)
	}
	_, _, err = tg.Ensure(p, Options{Check: func() error { t.Fatal("the install went as far as its check"); return nil }})
	if !errors.As(err, &unusable) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("install into a %d-character Nix directory: %v, want one line", len(tg.NixDir), err)
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("the refused install wrote %v", entries)
	}
	short := openTarget(t)
	if err := short.Preflight(p); err != nil {
		t.Errorf("Preflight of %s: %v", short.NixDir, err)
	}
}
