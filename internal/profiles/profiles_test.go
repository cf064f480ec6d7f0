package profiles

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A shared profile used by two data dirs: generations 1 and 3 are A's,
// 2 is B's and current. A gets 1 and 3 (current: 3), B gets 2.
func TestMigrateTakesTheGenerationsThisDataDirHolds(t *testing.T) {
	root := t.TempDir()
	old := filepath.Join(root, "old")
	os.MkdirAll(old, 0o755)
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(old, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("/nix/store/a1-user-environment", "profile-1-link")
	link("/nix/store/b2-user-environment", "profile-2-link")
	link("/nix/store/a3-user-environment", "profile-3-link")
	link("profile-2-link", "profile")
	for name, paths := range map[string][]string{"a": {"a1-user-environment", "a3-user-environment"}, "b": {"b2-user-environment"}} {
		nixDir := filepath.Join(root, name, "nix")
		for _, p := range paths {
			os.MkdirAll(filepath.Join(nixDir, "store", p), 0o755)
		}
		m := Migration{From: old, To: filepath.Join(root, name, "state", "profiles"), NixDir: nixDir, Roots: filepath.Join(nixDir, "var/nix/gcroots/auto")}
		r, err := m.Profile("profile")
		if err != nil {
			t.Fatal(err)
		}
		want, cur := []int{1, 3}, 3
		if name == "b" {
			want, cur = []int{2}, 2
		}
		if !slices.Equal(r.Copied, want) || r.Current != cur {
			t.Errorf("data dir %s: copied %v current %d, want %v current %d", name, r.Copied, r.Current, want, cur)
		}
		if got, _ := os.Readlink(filepath.Join(m.To, "profile")); got != "profile-"+string(rune('0'+cur))+"-link" {
			t.Errorf("data dir %s: profile -> %q", name, got)
		}
		roots, _ := os.ReadDir(m.Roots)
		if len(roots) != len(want) {
			t.Errorf("data dir %s: %d GC roots, want %d", name, len(roots), len(want))
		}
		for _, e := range roots {
			if target, _ := os.Readlink(filepath.Join(m.Roots, e.Name())); filepath.Dir(target) != m.To {
				t.Errorf("data dir %s: root %s -> %s, want a generation in %s", name, e.Name(), target, m.To)
			}
		}
		// Done once: a profile Nix or np made already is left alone.
		if r, _ := m.Profile("profile"); len(r.Copied) != 0 {
			t.Errorf("data dir %s: migrated twice", name)
		}
	}
	// The old links stay for other data dirs.
	if gens, _ := Generations(old, "profile"); len(gens) != 3 {
		t.Errorf("old profile has %d generations left, want 3", len(gens))
	}
}

func TestMigrateWithoutOldProfileDoesNothing(t *testing.T) {
	root := t.TempDir()
	m := Migration{From: filepath.Join(root, "none"), To: filepath.Join(root, "new"), NixDir: root}
	r, err := m.Profile("profile")
	if err != nil || len(r.Copied) != 0 {
		t.Fatalf("Profile = %+v, %v", r, err)
	}
}
