//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLinkWithAnEmptyDirectoryIsAnError(t *testing.T) {
	dir := t.TempDir()
	r := np(t, runOpts{dir: dir}, "link", "")
	if r.code != 125 || !strings.HasPrefix(r.stderr, "np: ") {
		t.Fatalf("np link '': exit %d stderr %q, want 125", r.code, r.stderr)
	}
}

func TestVersionAndHelpRefuseExtraArguments(t *testing.T) {
	for _, flag := range []string{"--version", "--help", "-h", "-V"} {
		r := np(t, runOpts{}, flag, "extra")
		if r.code != 125 || !strings.Contains(r.stderr, "extra") {
			t.Errorf("np %s extra: exit %d stderr %q, want 125 naming the extra argument", flag, r.code, r.stderr)
		}
	}
}

func TestFirstRunWithAMissingTMPDIRWorks(t *testing.T) {
	loc := newLocation(t)
	r := np(t, runOpts{loc: loc, env: []string{"TMPDIR=/nonexistent/np-tmp"}}, "nix", "--version")
	if got := strings.TrimSpace(must(t, r)); got != "nix (Nix) "+nixVersion {
		t.Fatalf("first run with TMPDIR missing printed %q", got)
	}
}

func TestTruncatedDownloadIsNamedAsSuch(t *testing.T) {
	data, err := os.ReadFile(npBin)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "np")
	if err := os.WriteFile(cut, data[:len(data)-1_000_000], 0o755); err != nil {
		t.Fatal(err)
	}
	r := np(t, runOpts{loc: newLocation(t), bin: cut}, "nix", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "truncated") || strings.Contains(r.stderr, "carries no Nix") {
		t.Fatalf("a truncated np: exit %d stderr %q; want 125 saying it is truncated", r.code, r.stderr)
	}
	// A plain go build still says it carries no payload.
	if r := np(t, runOpts{loc: newLocation(t), bin: bareBin}, "nix", "--version"); !strings.Contains(r.stderr, "carries no Nix") {
		t.Fatalf("bare np: %q", r.stderr)
	}
}
