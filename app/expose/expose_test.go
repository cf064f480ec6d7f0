package expose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProfile lays out, in a data dir's nix, what nix-env leaves: a profile
// link chain ending in a generation whose bin links to programs.
func fakeProfile(t *testing.T, programs ...string) (home, nixDir string) {
	t.Helper()
	home, nixDir = t.TempDir(), t.TempDir()
	gen := "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-user-environment"
	bin := filepath.Join(nixDir, "store", filepath.Base(gen), "bin")
	os.MkdirAll(bin, 0o755)
	for _, p := range programs {
		os.Symlink("/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-pkg/bin/"+p, filepath.Join(bin, p))
	}
	profiles := filepath.Join(home, ".local", "state", "nix", "profiles")
	os.MkdirAll(profiles, 0o755)
	os.Symlink(gen, filepath.Join(profiles, "profile-1-link"))
	os.Symlink("profile-1-link", filepath.Join(profiles, "profile"))
	os.Symlink(filepath.Join(profiles, "profile"), filepath.Join(home, ".nix-profile"))
	return home, nixDir
}

func TestProfileTargetFollowsLinksIntoTheDataDir(t *testing.T) {
	home, nixDir := fakeProfile(t, "hello")
	gen, bin := profileTarget(filepath.Join(home, ".nix-profile"), nixDir)
	if gen != "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-user-environment" || bin != filepath.Join(nixDir, "store", filepath.Base(gen), "bin") {
		t.Fatalf("profileTarget = %q, %q", gen, bin)
	}
	if gen, bin := profileTarget(filepath.Join(t.TempDir(), ".nix-profile"), nixDir); gen != "" || bin != "" {
		t.Fatalf("a missing profile gave %q, %q", gen, bin)
	}
}

func TestSyncOneWritesRemovesAndLeavesOthersAlone(t *testing.T) {
	home, nixDir := fakeProfile(t, "hello", "it's")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, exposeMarker), []byte("{}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hello"), []byte("#!/bin/sh\necho mine\n"), 0o755)
	e := &exposedDir{Dir: dir, Profile: filepath.Join(home, ".nix-profile"), Np: "/opt/n p/np", Location: "/data"}
	n, skipped, err := syncOne(e, nixDir)
	if err != nil || n != 1 || len(skipped) != 1 || skipped[0] != filepath.Join(dir, "hello") {
		t.Fatalf("syncOne: %d exposed, skipped %v, %v", n, skipped, err)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "it's"))
	want := `NP_LOCATION='/data' exec '/opt/n p/np' run '` + home + `/.nix-profile/bin/it'\''s' "$@"`
	if !isWrapperText(text) || !strings.Contains(string(text), want) {
		t.Fatalf("wrapper:\n%s\nwant a line %s", text, want)
	}
	// The program leaves the profile: its wrapper goes, the user's file stays.
	os.Remove(filepath.Join(nixDir, "store", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-user-environment", "bin", "it's"))
	if _, _, err := syncOne(e, nixDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "it's")); err == nil {
		t.Error("the wrapper of a removed program stayed")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "hello")); string(data) != "#!/bin/sh\necho mine\n" {
		t.Errorf("the user's own file changed: %q", data)
	}
}
