//go:build integration && compat

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompatDataDirGoesBackAndForth: a data dir installed and used by the
// previous np (NP_PREV_BIN, built by `make compat` from the last commit
// before np carried Nix 2.34) is used by this np and then by the previous
// one again, and nothing is lost on the way: the profile's programs and
// generations, the channel, the np expose wrappers, a flake's build, the
// store database (Nix's own check finds nothing, and its schema stays the
// one both Nix versions read). Each np's garbage collection leaves the
// other's Nix alone.
func TestCompatDataDirGoesBackAndForth(t *testing.T) {
	prevBin := os.Getenv("NP_PREV_BIN")
	if prevBin == "" {
		t.Fatal("NP_PREV_BIN must name the previous np; `make compat` builds it")
	}
	loc := newLocation(t)
	env := append([]string{"HOME=" + t.TempDir()}, offlineEnv(t)...)
	prev := runOpts{loc: loc, env: env, bin: prevBin}
	cur := runOpts{loc: loc, env: env}
	dataDir := filepath.Join(loc, ".nix-portable")
	schemaFile := filepath.Join(dataDir, "nix", "var", "nix", "db", "schema")

	// What the previous np carries, so the test is one of two Nix versions.
	prevVersion := strings.TrimSpace(must(t, np(t, prev, "nix", "--version")))
	if prevVersion == "nix (Nix) "+nixVersion {
		t.Fatalf("the previous np carries the same Nix (%s) as this one: nothing to compare", prevVersion)
	}
	t.Logf("previous np: %s; this np: Nix %s", prevVersion, nixVersion)

	// The previous np sets the data dir up as a user would.
	channel := filepath.Join(t.TempDir(), "nixexprs.tar.gz")
	writeTarGz(t, channel, map[string]string{"nixpkgs-compat/default.nix": "{ ... }: { hello = " + programExpr("np-from-channel") + "; }"})
	must(t, np(t, prev, "nix-env", "-i", "-E", "_: "+programExpr("np-prev-a")))
	must(t, np(t, prev, "nix-channel", "--add", "file://"+channel, "nixpkgs"))
	must(t, np(t, prev, "nix-channel", "--update"))
	must(t, np(t, prev, "nix-env", "-iA", "nixpkgs.hello"))
	bin := filepath.Join(t.TempDir(), "bin")
	must(t, np(t, prev, "expose", bin))
	flake := compatGitFlake(t)
	prevFlakeOut := strings.TrimSpace(must(t, np(t, prev, "nix", "build", "--no-link", "--print-out-paths", "git+file://"+flake)))
	checkStore(t, prev, "the previous np, before")
	schema := readFileString(t, schemaFile)

	// This np: everything is there, and it adds to it.
	checkProfile(t, cur, "this np", []string{"np-from-channel", "np-prev-a"})
	checkExposed(t, env, bin, "np-prev-a", "np-from-channel")
	if out := must(t, np(t, cur, "nix-channel", "--list")); !strings.HasPrefix(out, "nixpkgs file://") {
		t.Errorf("this np lists the channels %q, want the previous np's", out)
	}
	if out := strings.TrimSpace(must(t, np(t, cur, "nix", "build", "--no-link", "--print-out-paths", "git+file://"+flake))); out != prevFlakeOut {
		t.Errorf("this np builds the flake as %q, the previous np as %q", out, prevFlakeOut)
	}
	must(t, np(t, cur, "nix-env", "-i", "-E", "_: "+programExpr("np-cur-b")))
	must(t, np(t, cur, "gc"))
	checkStore(t, cur, "this np")
	if got := readFileString(t, schemaFile); got != schema {
		t.Errorf("this np changed the store database's schema from %q to %q: the previous np's Nix cannot read it", schema, got)
	}

	// The previous np again: this np's additions are there, its own
	// Nix survived this np's gc, and it keeps working.
	checkProfile(t, prev, "the previous np, after", []string{"np-cur-b", "np-from-channel", "np-prev-a"})
	checkExposed(t, env, bin, "np-prev-a", "np-from-channel", "np-cur-b")
	if out := strings.TrimSpace(must(t, np(t, prev, "nix", "--version"))); out != prevVersion {
		t.Errorf("the previous np after this one: nix --version %q, want %q", out, prevVersion)
	}
	must(t, np(t, prev, "nix-env", "--rollback"))
	checkProfile(t, prev, "the previous np, rolled back", []string{"np-from-channel", "np-prev-a"})
	must(t, np(t, prev, "nix-env", "-i", "-E", "_: "+programExpr("np-prev-c")))
	must(t, np(t, prev, "gc"))
	checkStore(t, prev, "the previous np, after")
	gens := must(t, np(t, prev, "nix-env", "--list-generations"))

	// And this np once more, after the previous np's gc.
	checkProfile(t, cur, "this np, last", []string{"np-from-channel", "np-prev-a", "np-prev-c"})
	if out := must(t, np(t, cur, "nix-env", "--list-generations")); out != gens {
		t.Errorf("generations differ between the two np versions:\nthis np:\n%s\nthe previous np:\n%s", out, gens)
	}
	if out := strings.TrimSpace(must(t, np(t, cur, "nix", "--version"))); out != "nix (Nix) "+nixVersion {
		t.Errorf("this np after the previous np's gc: %q", out)
	}
	checkStore(t, cur, "this np, last")
}

// TestCompatNewProfileFormatReadByThePreviousNp: a profile that this np's
// `nix profile add` wrote (manifest.json) is listed, run and changed by the
// previous np's `nix profile`.
func TestCompatNewProfileFormatReadByThePreviousNp(t *testing.T) {
	prevBin := os.Getenv("NP_PREV_BIN")
	if prevBin == "" {
		t.Fatal("NP_PREV_BIN must name the previous np; `make compat` builds it")
	}
	loc := newLocation(t)
	env := append([]string{"HOME=" + t.TempDir()}, offlineEnv(t)...)
	prev := runOpts{loc: loc, env: env, bin: prevBin}
	cur := runOpts{loc: loc, env: env}
	must(t, np(t, prev, "nix-env", "-i", "-E", "_: "+programExpr("np-prev-a")))
	must(t, np(t, cur, "nix", "profile", "add", "--impure", "--expr", programExpr("np-cur-p")))
	for _, o := range []runOpts{prev, cur} {
		out := must(t, np(t, o, "nix", "profile", "list"))
		for _, name := range []string{"np-prev-a", "np-cur-p"} {
			if !strings.Contains(out, name) {
				t.Errorf("nix profile list (%s) does not show %s:\n%s", o.bin, name, out)
			}
		}
	}
	if out := must(t, np(t, prev, "run", "np-cur-p", "x")); out != "[np-cur-p][x]\n" {
		t.Errorf("the previous np runs this np's nix profile program: %q", out)
	}
	must(t, np(t, prev, "nix", "profile", "remove", "np-cur-p"))
	if out := must(t, np(t, cur, "nix", "profile", "list")); strings.Contains(out, "np-cur-p") || !strings.Contains(out, "np-prev-a") {
		t.Errorf("after the previous np's nix profile remove, this np lists:\n%s", out)
	}
	must(t, np(t, cur, "nix", "profile", "rollback"))
	if out := must(t, np(t, prev, "run", "np-cur-p", "y")); out != "[np-cur-p][y]\n" {
		t.Errorf("after this np's rollback, the previous np runs np-cur-p: %q", out)
	}
}

// checkProfile: nix-env -q lists exactly want, and each program runs.
func checkProfile(t *testing.T, o runOpts, who string, want []string) {
	t.Helper()
	if out := strings.Fields(must(t, np(t, o, "nix-env", "-q"))); strings.Join(out, " ") != strings.Join(want, " ") {
		t.Errorf("%s: nix-env -q lists %v, want %v", who, out, want)
	}
	for _, name := range want {
		if out := must(t, np(t, o, "run", name, "z")); out != "["+name+"][z]\n" {
			t.Errorf("%s: %s printed %q", who, name, out)
		}
	}
}

// checkExposed: each program runs through its np expose wrapper from a
// plain shell.
func checkExposed(t *testing.T, env []string, bin string, names ...string) {
	t.Helper()
	for _, name := range names {
		if out, code := hostShell(t, append([]string{"PATH=" + bin + ":/usr/bin:/bin"}, env...), name+" w"); out != "["+name+"][w]\n" || code != 0 {
			t.Errorf("exposed %s: %q exit %d", name, out, code)
		}
	}
}

// checkStore: Nix's own check of the store and its database finds nothing.
func checkStore(t *testing.T, o runOpts, who string) {
	t.Helper()
	r := np(t, o, "nix-store", "--verify", "--check-contents")
	if r.code != 0 || strings.Contains(r.stderr, "error") || strings.Contains(r.stderr, "warning") {
		t.Errorf("%s: nix-store --verify --check-contents: exit %d\n%s", who, r.code, r.stderr)
	}
}
