//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// passRuntime is the NP_RUNTIME of this pass.
func passRuntime() string {
	if pass == "ptrace-noseccomp" {
		return "ptrace"
	}
	return pass
}

// doctorUses is the part of np doctor --json these tests read.
type doctorUses struct {
	Uses     string `json:"uses"`
	Auto     string `json:"auto"`
	Runtimes []struct {
		Name         string `json:"name"`
		BuildSandbox string `json:"buildSandbox"`
	} `json:"runtimes"`
}

func doctorReport(t *testing.T, o runOpts) doctorUses {
	t.Helper()
	r := np(t, o, "doctor", "--json")
	var d doctorUses
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("np doctor --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return d
}

// A builder /bin/sh calling mkdir with Nix's PATH=/path-not-set: inside
// the build sandbox /bin/sh is np's busybox, whose applets need no PATH;
// without it (ptrace) it is the host's shell, which finds no mkdir. doctor
// says which, and what it means (issue 16, 7).
func TestBuildWithoutSandboxRunsTheHostsShell(t *testing.T) {
	d := doctorReport(t, runOpts{})
	state := map[string]string{}
	for _, rt := range d.Runtimes {
		state[rt.Name] = rt.BuildSandbox
	}
	if s := state["ptrace"]; !strings.HasPrefix(s, "off") || !strings.Contains(s, "host's /bin/sh") || !strings.Contains(s, "set PATH") {
		t.Errorf("doctor's ptrace build sandbox line does not say what off means for builds: %q", s)
	}
	if pass == "ns" && state["ns"] != "on" {
		t.Fatalf("the ns pass needs Nix's build sandbox on; doctor says %q", state["ns"])
	}
	dir := t.TempDir()
	expr := `derivation { name = "mkdir-no-path"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "mkdir $out" ]; }`
	r := np(t, runOpts{dir: dir}, "nix-build", "--no-out-link", "-E", expr)
	if state[passRuntime()] == "on" {
		must(t, r)
		return
	}
	if r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("without the build sandbox mkdir with no PATH: exit %d, want a failure naming mkdir not found:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(state[passRuntime()], "host's /bin/sh") {
		t.Errorf("doctor does not explain it for %s: %q", passRuntime(), state[passRuntime()])
	}
}

// The rough words a newcomer met (issue 16, 8).
func TestNewcomerWording(t *testing.T) {
	home := t.TempDir()
	o := runOpts{env: []string{"HOME=" + home}}

	if out := must(t, np(t, o, "help", "gc")); strings.Contains(out, "listed by np doctor") || !strings.Contains(out, "gcroots/np") {
		t.Errorf("np help gc names the wrong place for the versions:\n%s", out)
	}
	if r := np(t, o, "nix"); r.code != 1 || !strings.Contains(r.stderr, "Try 'np nix --help'") || strings.Contains(r.stderr, "/nix/store") {
		t.Errorf("np nix alone: exit %d stderr %q; want 1 and a hint naming np nix --help", r.code, r.stderr)
	}
	if r := np(t, o, "nix", "--help"); r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("np nix --help in a fresh HOME: exit %d stderr %q", r.code, r.stderr)
	}
	c := runOpts{env: []string{"HOME=" + home, "LANG=C", "LC_ALL=C"}}
	if r := np(t, c, "nix-build", "--help"); r.code != 0 || strings.Contains(r.stderr, "troff") || !strings.Contains(strings.ToLower(r.stdout), "synopsis") {
		t.Errorf("np nix-build --help in the C locale: exit %d stderr %q", r.code, r.stderr)
	}
	r := np(t, o, "nix-buidl")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 127 || len(lines) != 1 || !strings.Contains(r.stderr, "did you mean np nix-build?") {
		t.Errorf("np nix-buidl: exit %d stderr %q; want 127 and one line naming nix-build", r.code, r.stderr)
	}
	if r := np(t, runOpts{env: append([]string{"HOME=" + home}, offlineEnv(t)...)}, "nix-shell", "-p", "hello", "--run", "true"); r.code == 0 || !strings.Contains(r.stderr, "np: offline and no channel provides <nixpkgs>") {
		t.Errorf("offline nix-shell -p: exit %d, no hint from np:\n%s", r.code, r.stderr)
	}
	if d := doctorReport(t, o); d.Uses != passRuntime() {
		t.Errorf("doctor --json under NP_RUNTIME=%s says uses %q (auto %q)", passRuntime(), d.Uses, d.Auto)
	}
}

// A mistyped NP_LOCATION: one whose parent is missing is refused before
// anything is made; a missing last directory is made, and np says so; a
// location np cannot write names the fix once.
func TestMissingLocation(t *testing.T) {
	base := newLocation(t)
	typo := filepath.Join(base, "no-such", "np")
	r := np(t, runOpts{loc: typo}, "nix", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "does not exist, nor does") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("NP_LOCATION with a missing parent: exit %d stderr %q; want 125 and one line", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Dir(typo)); err == nil {
		t.Errorf("np created the parents of a missing NP_LOCATION")
	}
	fresh := filepath.Join(base, "fresh")
	if r := np(t, runOpts{loc: fresh}, "nix", "--version"); r.code != 0 || !strings.Contains(r.stderr, "NP_LOCATION "+fresh+" did not exist: created it") {
		t.Errorf("NP_LOCATION missing its last directory: exit %d stderr %q", r.code, r.stderr)
	}
	ro := filepath.Join(base, "ro")
	os.Mkdir(ro, 0o555)
	defer os.Chmod(ro, 0o755)
	r = np(t, runOpts{loc: filepath.Join(ro, "np")}, "nix", "--version")
	if r.code != 125 || strings.Count(r.stderr, "set NP_LOCATION to a writable directory") != 1 {
		t.Errorf("an unwritable NP_LOCATION: exit %d stderr %q; want 125 and the fix named once", r.code, r.stderr)
	}
}

// np repair says what it repairs, not to run np repair.
func TestRepairSaysWhatItRepairs(t *testing.T) {
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "nix", "--version"))
	libs, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "store", "*-nix-*", "lib", "libz.so.1"))
	if len(libs) != 1 {
		t.Fatalf("no libz.so.1 in np's Nix: %v", libs)
	}
	os.Chmod(filepath.Dir(libs[0]), 0o755)
	if err := os.Remove(libs[0]); err != nil {
		t.Fatal(err)
	}
	r := np(t, runOpts{loc: loc}, "repair")
	if r.code != 0 || strings.Contains(r.stderr, "run `np repair`") || !strings.Contains(r.stderr, "repairing np's Nix in") {
		t.Errorf("np repair: exit %d stderr %q", r.code, r.stderr)
	}
}
