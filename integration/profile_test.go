//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two data dirs, one HOME: each keeps its own profile, so installing in
// one neither hides the other's programs nor removes its np expose
// wrappers (issue 16, 1).
func TestDataDirsKeepTheirOwnProfiles(t *testing.T) {
	home := t.TempDir()
	a := runOpts{loc: newLocation(t), env: []string{"HOME=" + home}}
	b := runOpts{loc: newLocation(t), env: []string{"HOME=" + home}}
	must(t, np(t, a, "nix-env", "-i", "-E", "_: "+programExpr("np-in-a")))
	binA := filepath.Join(t.TempDir(), "bin")
	must(t, np(t, a, "expose", binA))
	must(t, np(t, b, "nix-env", "-i", "-E", "_: "+programExpr("np-in-b")))

	if out := must(t, np(t, a, "run", "np-in-a", "x")); out != "[np-in-a][x]\n" {
		t.Errorf("np-in-a in its data dir after an install in another: %q", out)
	}
	if out := must(t, np(t, a, "nix-env", "-q")); strings.TrimSpace(out) != "np-in-a" {
		t.Errorf("nix-env -q in data dir A lists %q, want only np-in-a", out)
	}
	if out := must(t, np(t, b, "nix-env", "-q")); strings.TrimSpace(out) != "np-in-b" {
		t.Errorf("nix-env -q in data dir B lists %q, want only np-in-b", out)
	}
	if r := np(t, b, "run", "np-in-a"); r.code != 127 {
		t.Errorf("np-in-a ran in data dir B (exit %d): data dirs share a profile", r.code)
	}
	// B's changes, a removal and a rollback, leave A's wrappers alone.
	must(t, np(t, b, "nix-env", "-e", "np-in-b"))
	must(t, np(t, b, "nix-env", "--rollback"))
	must(t, np(t, a, "run", "true"))
	if out, code := hostShell(t, []string{"PATH=" + binA + ":/usr/bin:/bin"}, "np-in-a y"); out != "[np-in-a][y]\n" || code != 0 {
		t.Errorf("A's exposed np-in-a after B's changes: %q exit %d", out, code)
	}
	if _, err := os.Lstat(filepath.Join(home, ".nix-profile")); err == nil {
		t.Errorf("np made ~/.nix-profile on the host, which every data dir would share")
	}
}

// A data dir from before each had its own profile, with the generations
// of a ~/.nix-profile shared by two data dirs: each takes the generations
// whose programs it holds, and they survive a garbage collection.
func TestSharedProfileMovesIntoTheDataDirs(t *testing.T) {
	home := t.TempDir()
	// What np did before: Nix's defaults, the profile in HOME.
	shared := []string{"HOME=" + home, "NIX_STATE_HOME=" + filepath.Join(home, ".local/state/nix"),
		"NIX_CONFIG=substituters =\nuse-xdg-base-directories = false"}
	locA, locB := newLocation(t), newLocation(t)
	must(t, np(t, runOpts{loc: locA, env: shared}, "nix-env", "-i", "-E", "_: "+programExpr("np-old-a")))
	must(t, np(t, runOpts{loc: locB, env: shared}, "nix-env", "-i", "-E", "_: "+programExpr("np-old-b")))
	if _, err := os.Readlink(filepath.Join(home, ".nix-profile")); err != nil {
		t.Fatalf("the old layout has no ~/.nix-profile: %v", err)
	}
	for _, loc := range []string{locA, locB} {
		if err := os.RemoveAll(filepath.Join(loc, ".nix-portable", "state")); err != nil {
			t.Fatal(err)
		}
	}

	a := runOpts{loc: locA, env: []string{"HOME=" + home}}
	r := np(t, a, "nix-env", "-q")
	if strings.TrimSpace(must(t, r)) != "np-old-a" {
		t.Errorf("after the move, data dir A lists %q, want np-old-a", r.stdout)
	}
	if !strings.Contains(r.stderr, "keeps its own Nix profile") {
		t.Errorf("the move was not announced: %q", r.stderr)
	}
	must(t, np(t, a, "gc"))
	if out := must(t, np(t, a, "run", "np-old-a", "z")); out != "[np-old-a][z]\n" {
		t.Errorf("np-old-a after the move and a gc: %q", out)
	}
	if out := must(t, np(t, runOpts{loc: locB, env: []string{"HOME=" + home}}, "nix-env", "-q")); strings.TrimSpace(out) != "np-old-b" {
		t.Errorf("after the move, data dir B lists %q, want np-old-b", out)
	}
	if out := must(t, np(t, a, "nix-env", "--list-generations")); !strings.Contains(out, "   1 ") {
		t.Errorf("data dir A lost its generation 1: %q", out)
	}
}

// A program inside np that chooses its own HOME (a CI script, a test
// suite, home-manager's activation) gets Nix's ordinary profile under that
// HOME, and the data dir's profile stays as it was; back at np's HOME, the
// data dir's profile is the one again (issue 22).
func TestAProgramWithItsOwnHomeGetsNixsOrdinaryProfile(t *testing.T) {
	home := t.TempDir()
	o := runOpts{loc: newLocation(t), env: []string{"HOME=" + home}}
	must(t, np(t, o, "nix-env", "-i", "-E", "_: "+programExpr("np-mine")))
	script := `set -e
np_home=$HOME
export HOME=$(mktemp -d)
nix-env -i -E "$1" 2>/dev/null
echo "list: $(nix-env -q | tr '\n' ' ')"
echo "link: $(readlink "$HOME/.nix-profile")" | sed "s|$HOME|HOME|"
"$HOME/.nix-profile/bin/np-theirs" x
HOME=$(mktemp -d) nix profile install --impure --expr "$2" 2>/dev/null
echo "back: $(HOME=$np_home nix-env -q | tr '\n' ' ')"
`
	out := must(t, np(t, o, "run", "sh", "-c", script, "sh", "_: "+programExpr("np-theirs"), programExpr("np-profiled")))
	want := "list: np-theirs \nlink: HOME/.local/state/nix/profiles/profile\n[np-theirs][x]\nback: np-mine \n"
	if out != want {
		t.Errorf("a script with its own HOME inside np printed\n%s\nwant\n%s", out, want)
	}
	if got := strings.TrimSpace(must(t, np(t, o, "nix-env", "-q"))); got != "np-mine" {
		t.Errorf("the data dir's profile lists %q after the script, want only np-mine", got)
	}
	if r := np(t, o, "run", "np-theirs"); r.code != 127 {
		t.Errorf("np-theirs, installed with the script's own HOME, is in the data dir's profile (exit %d)", r.code)
	}
	if _, err := os.Lstat(filepath.Join(home, ".nix-profile")); err == nil {
		t.Errorf("np made ~/.nix-profile in np's HOME")
	}
}
