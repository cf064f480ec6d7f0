//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A derivation whose output is a program, built offline with /bin/sh: the
// sandbox's busybox where Nix's build sandbox is on (its applets need no
// PATH), the host's sh and tools where it is off (under ptrace).
const helloExpr = `derivation {
  name = "hello-np"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "PATH=/usr/bin:/bin:$PATH; mkdir -p $out/bin; printf '#!/bin/sh\necho hello from the profile\n' > $out/bin/hello-np; chmod +x $out/bin/hello-np" ];
}`

func TestNixShellRunsCommandInDerivationEnvironment(t *testing.T) {
	// NIX_BUILD_SHELL=bash (the host's) spares nix-shell fetching bashInteractive
	// from nixpkgs, which needs the network.
	r := np(t, runOpts{env: []string{"NIX_BUILD_SHELL=bash"}}, "nix-shell", "-E",
		`derivation { name = "shell-np"; system = builtins.currentSystem; builder = "/bin/sh"; greeting = "hi"; }`,
		"--run", `echo "in $name: $greeting"`)
	if got := strings.TrimSpace(must(t, r)); got != "in shell-np: hi" {
		t.Fatalf("nix-shell --run printed %q", got)
	}
}

func TestNewCLIBuildsWithResultLink(t *testing.T) {
	dir := t.TempDir()
	must(t, np(t, runOpts{dir: dir}, "nix", "build", "--impure", "--expr", helloExpr))
	target, err := os.Readlink(filepath.Join(dir, "result"))
	if err != nil || !strings.HasPrefix(target, "/nix/store/") {
		t.Fatalf("result link: %q (%v)", target, err)
	}
	// The link points into /nix/store, which exists inside np.
	if got := must(t, np(t, runOpts{dir: dir}, "run", "./result/bin/hello-np")); got != "hello from the profile\n" {
		t.Fatalf("./result/bin/hello-np printed %q", got)
	}
}

func TestProgramInstalledWithNixEnvRunsWithNpRun(t *testing.T) {
	home := t.TempDir()
	env := []string{"HOME=" + home}
	must(t, np(t, runOpts{env: env}, "nix-env", "-i", "-E", "_: "+helloExpr))
	if got := must(t, np(t, runOpts{env: env}, "run", "hello-np")); got != "hello from the profile\n" {
		t.Fatalf("np run hello-np printed %q", got)
	}
	must(t, np(t, runOpts{env: env}, "nix-env", "-e", "hello-np"))
	if r := np(t, runOpts{env: env}, "run", "hello-np"); r.code != 127 {
		t.Fatalf("after nix-env -e, np run hello-np: exit %d, want 127", r.code)
	}
}
