//go:build prepared

// TestRealNix needs bin/np, built by make: the host prepared.

package ptrace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/np-portable/np/internal/launch"
)

// realNix installs the real Nix of np's payload into a data dir, with
// bin/np (built by make) under the ns runtime, once per test binary run.
// It returns the Nix dir and the guest path of Nix's bin directory.
var (
	realNixOnce sync.Once
	realNixDir  string
	realNixBin  string
	realNixErr  string
)

func realNix(t *testing.T) (nixDir, bin string) {
	t.Helper()
	realNixOnce.Do(func() {
		src := os.Getenv("NP_PTRACE_TEST_SRC")
		if src == "" {
			src, _ = os.Getwd()
		}
		np := filepath.Join(src, "..", "bin", "np")
		if _, err := os.Stat(np); err != nil {
			realNixErr = "the real-Nix tests need bin/np with its payload: run make first (" + err.Error() + ")"
			return
		}
		loc, err := os.MkdirTemp("", "np-ptrace-nix-")
		if err != nil {
			realNixErr = err.Error()
			return
		}
		cmd := exec.Command(np, "nix-store", "--version")
		cmd.Env = append(testEnv(), "NP_LOCATION="+loc, "NP_RUNTIME=ns")
		if out, err := cmd.CombinedOutput(); err != nil {
			realNixErr = "installing Nix with bin/np (ns runtime): " + err.Error() + ": " + string(out)
			return
		}
		realNixDir = filepath.Join(loc, ".nix-portable", "nix")
		bins, _ := filepath.Glob(realNixDir + "/store/*-nix-[0-9]*/bin")
		if len(bins) != 1 {
			realNixErr = "no Nix in " + realNixDir + "/store"
			return
		}
		realNixBin = "/nix" + strings.TrimPrefix(bins[0], realNixDir)
	})
	if realNixErr != "" {
		t.Fatal(realNixErr)
	}
	return realNixDir, realNixBin
}

//np:kernel-set smoke
func TestRealNix(t *testing.T) {
	nixDir, bin := realNix(t)
	home := t.TempDir()
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + home, "XDG_CACHE_HOME=" + home + "/cache",
		"NIX_CONFIG=store = local\nsandbox = false\nsubstituters =\n", "LC_ALL=C"}
	run := func(t *testing.T, ns bool, argv ...string) runResult {
		t.Helper()
		var out, errOut strings.Builder
		ws, err := Run(launch.Spec{NixDir: nixDir, Argv: argv, Env: env, Stdout: &out, Stderr: &errOut, Dir: home}, Options{NoSeccomp: ns, NoNotify: noNotifyForTests})
		if err != nil {
			t.Fatalf("Run %q: %v", argv, err)
		}
		if ws != 0 {
			t.Fatalf("%q: status %v\nstdout: %s\nstderr: %s", argv, ws, out.String(), errOut.String())
		}
		return runResult{out.String(), errOut.String(), ws}
	}
	modes(t, func(t *testing.T, ns bool) {
		if r := run(t, ns, "nix-store", "--version"); !strings.HasPrefix(r.out, "nix-store (Nix) ") {
			t.Errorf("nix-store --version: %q", r.out)
		}
		name := "x-" + filepath.Base(t.Name()) // a new build in every mode
		expr := `derivation { name="` + name + `"; system=builtins.currentSystem; builder="/bin/sh"; args=["-c" "echo ok > $out"]; }`
		r := run(t, ns, "nix-build", "--no-out-link", "-E", expr)
		out := strings.TrimSpace(r.out)
		if !strings.HasPrefix(out, "/nix/store/") || !strings.HasSuffix(out, "-"+name) {
			t.Fatalf("nix-build printed %q (stderr %s)", r.out, r.errOut)
		}
		if b, err := os.ReadFile(nixDir + strings.TrimPrefix(out, "/nix")); err != nil || string(b) != "ok\n" {
			t.Errorf("build output %q, %v", b, err)
		}
		// A store program runs through its loader, yet is named (ps,
		// pkill) after the path it was run by, as natively: the builder
		// reads its parent's (nix-build's) name.
		expr = `derivation { name="comm-` + name + `"; system=builtins.currentSystem; builder="/bin/sh"; args=["-c" "read n < /proc/$PPID/comm; echo $n > $out"]; }`
		r = run(t, ns, "nix-build", "--no-out-link", "-E", expr)
		if b, err := os.ReadFile(nixDir + strings.TrimPrefix(strings.TrimSpace(r.out), "/nix")); err != nil || string(b) != "nix-build\n" {
			t.Errorf("nix-build's name as its builder sees it: %q, %v; want \"nix-build\\n\"", b, err)
		}
		run(t, ns, "nix-store", "--verify", "--check-contents")
		if r := run(t, ns, "ls", "/"); !strings.Contains(r.out, "\nnix\n") {
			t.Errorf("ls / does not list nix:\n%s", r.out)
		}
	})
}
