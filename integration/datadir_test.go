//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGroupWritableDataDirIsRefused(t *testing.T) {
	for _, rel := range []string{"", "nix", "conf"} {
		loc := newLocation(t)
		dataDir := filepath.Join(loc, ".nix-portable")
		os.MkdirAll(filepath.Join(dataDir, rel), 0o700)
		os.Chmod(filepath.Join(dataDir, rel), 0o770)
		r := np(t, runOpts{loc: loc}, "run", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "writable by its group") || !strings.Contains(r.stderr, "chmod go-w") {
			t.Errorf("%s group-writable: exit %d stderr %q; want 125 with the reason and the fix", filepath.Join(dataDir, rel), r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "nix", "store")); err == nil {
			t.Errorf("np installed into a data dir whose %q is group-writable", rel)
		}
		if d := np(t, runOpts{loc: loc}, "doctor"); d.code != 1 || !strings.Contains(d.stdout, "writable by its group") {
			t.Errorf("doctor with %q group-writable: exit %d\n%s", rel, d.code, d.stdout)
		}
	}
}

func TestNewDataDirIsMode0700(t *testing.T) {
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "run", "true"))
	st, err := os.Stat(filepath.Join(loc, ".nix-portable"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir: %v %v, want mode 0700", st.Mode(), err)
	}
}

// A symlink where np expects its own directory is refused, and its target
// is neither emptied nor written into.
func TestSymlinkedStagingAndGCRootDirsAreNotFollowed(t *testing.T) {
	for _, rel := range []string{"nix/var/np/tmp", "nix/var/nix/gcroots/np"} {
		loc := newLocation(t)
		target := t.TempDir()
		precious := filepath.Join(target, "thesis.tex")
		os.WriteFile(precious, []byte("years of work"), 0o644)
		link := filepath.Join(loc, ".nix-portable", rel)
		os.MkdirAll(filepath.Dir(link), 0o755)
		os.Chmod(filepath.Join(loc, ".nix-portable"), 0o700)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		r := np(t, runOpts{loc: loc}, "run", "true")
		if r.code != 125 || !strings.Contains(r.stderr, rel) || !strings.Contains(r.stderr, "symbolic link") {
			t.Errorf("%s a symlink: exit %d stderr %q; want 125 naming it", rel, r.code, r.stderr)
		}
		entries, _ := os.ReadDir(target)
		if b, err := os.ReadFile(precious); err != nil || string(b) != "years of work" || len(entries) != 1 {
			t.Errorf("%s a symlink: its target now holds %v (%v)", rel, entries, err)
		}
	}
}
