//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewNixCallsFallBackOnALinux310Host: the calls Nix 2.34 and its
// libraries make that Linux 3.10 lacks (integration/syscalls.sh's census:
// openat2 when Nix unpacks into the store, fchmodat2 before it deletes a
// build directory, clone3 for every thread and spawn, close_range before a
// builder's exec, landlock in the build sandbox, getrandom) all get ENOSYS
// here, and Nix's work still succeeds through their fallbacks: a sandboxed
// build, nix profile add, a flake from a local git repository (libgit2),
// fetchTarball of a local file, nix copy to a file:// store and gc.
func TestNewNixCallsFallBackOnALinux310Host(t *testing.T) {
	h := hostileHost{name: "linux-3.10", filters: []string{"linux-3.10"}}
	o := runOpts{loc: newLocation(t), env: append([]string{"HOME=" + t.TempDir()}, offlineEnv(t)...)}
	expr := func(name string) string {
		return `derivation { name = "` + name + `"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ` + name + ` > $out" ]; }`
	}
	out := strings.TrimSpace(must(t, h.np(t, o, "nix-build", "--no-out-link", "--option", "sandbox", "true", "-E", expr("sandboxed-on-3.10"))))
	if got := readFileString(t, filepath.Join(o.loc, ".nix-portable", "nix", "store", filepath.Base(out))); got != "sandboxed-on-3.10\n" {
		t.Errorf("sandboxed build on 3.10: %q", got)
	}
	must(t, h.np(t, o, "nix", "profile", "add", "--impure", "--expr", programExpr("np-on-3.10")))
	if got := must(t, h.np(t, o, "run", "np-on-3.10", "a")); got != "[np-on-3.10][a]\n" {
		t.Errorf("nix profile add's program on 3.10: %q", got)
	}
	flake := compatGitFlake(t)
	if got := strings.TrimSpace(must(t, h.np(t, o, "nix", "build", "--no-link", "--print-out-paths", "git+file://"+flake))); !strings.HasSuffix(got, "-compat-flake") {
		t.Errorf("git flake on 3.10: %q", got)
	}
	tarball := filepath.Join(t.TempDir(), "src.tar.gz")
	writeTarGz(t, tarball, map[string]string{"src/data": "from a tarball\n"})
	if got := must(t, h.np(t, o, "nix", "eval", "--raw", "--impure", "--expr", `builtins.readFile ((builtins.fetchTarball "file://`+tarball+`") + "/data")`)); got != "from a tarball\n" {
		t.Errorf("fetchTarball on 3.10: %q", got)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	must(t, h.np(t, o, "nix", "copy", "--to", "file://"+cache, out))
	if infos, _ := filepath.Glob(filepath.Join(cache, "*.narinfo")); len(infos) != 1 {
		t.Errorf("nix copy to file:// on 3.10 wrote %d narinfos, want 1", len(infos))
	}
	must(t, h.np(t, o, "nix-collect-garbage"))
	must(t, h.np(t, o, "nix-store", "--verify", "--check-contents"))
}

// compatGitFlake is a local git repository holding a flake that builds
// one file.
func compatGitFlake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flake.nix"), `{
  outputs = { self }: {
    packages.x86_64-linux.default = derivation { name = "compat-flake"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo flake > $out" ]; };
    packages.aarch64-linux.default = derivation { name = "compat-flake"; system = "aarch64-linux"; builder = "/bin/sh"; args = [ "-c" "echo flake > $out" ]; };
  };
}`)
	for _, args := range [][]string{{"init", "-q"}, {"add", "flake.nix"}, {"commit", "-q", "-m", "flake"}} {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=np", "-c", "user.email=np@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func readFileString(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
