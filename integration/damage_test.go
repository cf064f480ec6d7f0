//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A file of np's own Nix deleted: every run says so (125) and names the
// fix; np doctor says a repair is needed; np repair restores it and leaves
// the user's own store paths alone.
func TestDeletedFileOfNpsNixIsNamedAndRepaired(t *testing.T) {
	loc := newLocation(t)
	mine := filepath.Join(t.TempDir(), "mine.txt")
	os.WriteFile(mine, []byte("my own store path\n"), 0o644)
	userPath := strings.TrimSpace(must(t, np(t, runOpts{loc: loc}, "nix-store", "--add", mine)))

	store := filepath.Join(loc, ".nix-portable", "nix", "store")
	nixDirs, _ := filepath.Glob(filepath.Join(store, "*-nix-*"))
	var nixDir string
	for _, d := range nixDirs {
		if !strings.HasSuffix(d, ".drv") {
			nixDir = d
		}
	}
	victim := filepath.Join(nixDir, "bin", "nix")
	os.Chmod(filepath.Dir(victim), 0o755)
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(victim), 0o555)

	r := np(t, runOpts{loc: loc}, "run", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "np's Nix in") || !strings.Contains(r.stderr, "is damaged") ||
		!strings.Contains(r.stderr, "run `np repair`") || !strings.Contains(r.stderr, "bin/nix") {
		t.Fatalf("run with a file of np's Nix deleted: exit %d stderr %q; want 125 naming the damage and np repair", r.code, r.stderr)
	}
	d := np(t, runOpts{loc: loc}, "doctor")
	if d.code != 1 || !strings.Contains(d.stdout, "np repair") {
		t.Errorf("doctor with a damaged Nix: exit %d\n%s", d.code, d.stdout)
	}
	rep := np(t, runOpts{loc: loc}, "repair")
	if rep.code != 0 || !strings.Contains(rep.stderr, "repaired") {
		t.Fatalf("np repair: exit %d stderr %q", rep.code, rep.stderr)
	}
	must(t, np(t, runOpts{loc: loc}, "run", "true"))
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"))
	if got := must(t, np(t, runOpts{loc: loc}, "run", "cat", userPath)); got != "my own store path\n" {
		t.Errorf("the user's own store path after np repair: %q", got)
	}
	if d := np(t, runOpts{loc: loc}, "doctor"); d.code != 0 || strings.Contains(d.stdout, "damaged") {
		t.Errorf("doctor after repair: exit %d\n%s", d.code, d.stdout)
	}
}

// A data dir on a noexec mount is refused before anything is unpacked.
func TestNoexecDataDirIsRefusedBeforeUnpacking(t *testing.T) {
	mnt := t.TempDir()
	script := `mount -t tmpfs -o noexec tmpfs "$1" || exit 99
NP_LOCATION="$1" "$2" run true; echo "rc=$?"
ls -A "$1/.nix-portable/nix" 2>/dev/null | wc -l`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mnt, npBin)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mounting a noexec tmpfs in a user namespace: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "rc=125") || !strings.Contains(s, "noexec") || !strings.Contains(s, "NP_LOCATION") {
		t.Fatalf("np with a noexec data dir:\n%s\nwant 125 naming noexec and NP_LOCATION", s)
	}
	if lines := strings.Split(strings.TrimSpace(s), "\n"); lines[len(lines)-1] != "0" {
		t.Errorf("np unpacked into the noexec data dir:\n%s", s)
	}
}

// A data dir without room for np's Nix is refused before anything is
// unpacked, with the space needed.
func TestTooSmallDataDirIsRefusedWithTheSpaceNeeded(t *testing.T) {
	mnt := t.TempDir()
	script := `mount -t tmpfs -o size=24m tmpfs "$1" || exit 99
NP_LOCATION="$1" "$2" run true; echo "rc=$?"
ls -A "$1/.nix-portable/nix/store" 2>/dev/null | wc -l`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mnt, npBin)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mounting a small tmpfs in a user namespace: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "rc=125") || !strings.Contains(s, "not enough space") || !strings.Contains(s, "MB free") {
		t.Fatalf("np with a 24 MB data dir:\n%s\nwant 125 naming the space needed", s)
	}
	if lines := strings.Split(strings.TrimSpace(s), "\n"); lines[len(lines)-1] != "0" {
		t.Errorf("np unpacked into the full data dir:\n%s", s)
	}
}

// Most of Nix's tools are symbolic links to nix: one deleted is damage
// every run names (125 and np repair), as a deleted file is, and doctor
// says so; np repair restores it.
func TestDeletedLinkOfNpsNixIsNamedAndRepaired(t *testing.T) {
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "nix-hash", "--version"))
	nixDirs, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "store", "*-nix-2.*"))
	var victim string
	for _, d := range nixDirs {
		if target, err := os.Readlink(filepath.Join(d, "bin", "nix-hash")); err == nil && target == "nix" {
			victim = filepath.Join(d, "bin", "nix-hash")
		}
	}
	if victim == "" {
		t.Fatalf("no bin/nix-hash linking to nix in %v", nixDirs)
	}
	os.Chmod(filepath.Dir(victim), 0o755)
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(victim), 0o555)

	r := np(t, runOpts{loc: loc}, "nix-hash", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "is damaged") || !strings.Contains(r.stderr, "bin/nix-hash is missing") ||
		!strings.Contains(r.stderr, "run `np repair`") {
		t.Fatalf("np nix-hash with its link deleted: exit %d stderr %q; want 125 naming the link and np repair", r.code, r.stderr)
	}
	d := np(t, runOpts{loc: loc}, "doctor", "--json")
	if d.code != 1 || !strings.Contains(d.stdout, `"damaged": true`) {
		t.Errorf("doctor with a link of np's Nix deleted: exit %d\n%s", d.code, d.stdout)
	}
	if rep := np(t, runOpts{loc: loc}, "repair"); rep.code != 0 {
		t.Fatalf("np repair: exit %d stderr %q", rep.code, rep.stderr)
	}
	if got := must(t, np(t, runOpts{loc: loc}, "nix-hash", "--version")); !strings.Contains(got, nixVersion) {
		t.Errorf("np nix-hash --version after repair: %q", got)
	}
}
