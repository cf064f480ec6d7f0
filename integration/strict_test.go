//go:build integration

package integration

import (
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
	if got := strings.TrimSpace(must(t, r)); got != wantNixVersion {
		t.Fatalf("first run with TMPDIR missing printed %q", got)
	}
}
