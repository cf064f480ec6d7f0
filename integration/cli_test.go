//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestRunSeesHostRootPlusNix(t *testing.T) {
	out := must(t, np(t, runOpts{}, "run", "ls", "-A", "/"))
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{}
	for _, e := range host {
		if e.Name() != "nix" {
			want = append(want, e.Name())
		}
	}
	want = append(want, "nix")
	sort.Strings(want)
	got := strings.Fields(out)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ls -A / inside np:\n got %v\nwant %v", got, want)
	}
}

func TestRunIDIsCaller(t *testing.T) {
	out := strings.TrimSpace(must(t, np(t, runOpts{}, "run", "id", "-u")))
	if out != strconv.Itoa(os.Getuid()) {
		t.Fatalf("id -u inside np = %q, want %d", out, os.Getuid())
	}
}

func TestExitStatusPassesThrough(t *testing.T) {
	if r := np(t, runOpts{}, "run", "sh", "-c", "exit 42"); r.code != 42 {
		t.Fatalf("sh -c 'exit 42' gave exit %d signal %v; stderr %s", r.code, r.signal, r.stderr)
	}
}

func TestMissingProgramExits127(t *testing.T) {
	r := np(t, runOpts{}, "run", "no-such-program-np")
	if r.code != 127 || !strings.HasPrefix(r.stderr, "np: ") || !strings.Contains(r.stderr, "no-such-program-np") {
		t.Fatalf("exit %d stderr %q; want 127 and an np: message naming the program", r.code, r.stderr)
	}
}

func TestNonExecutableProgramExits126(t *testing.T) {
	f := filepath.Join(t.TempDir(), "script")
	os.WriteFile(f, []byte("#!/bin/sh\necho hi\n"), 0o644)
	r := np(t, runOpts{}, "run", f)
	if r.code != 126 || !strings.HasPrefix(r.stderr, "np: ") {
		t.Fatalf("exit %d stderr %q; want 126 and an np: message", r.code, r.stderr)
	}
}

func TestInvalidRuntimeExits125ListingValidOnes(t *testing.T) {
	r := np(t, runOpts{env: []string{"NP_RUNTIME=bogus"}}, "run", "true")
	if r.code != 125 {
		t.Fatalf("exit %d, want 125", r.code)
	}
	for _, v := range []string{"bogus", "auto", "ns", "ptrace", "native"} {
		if !strings.Contains(r.stderr, v) {
			t.Errorf("message %q does not mention %q", r.stderr, v)
		}
	}
}

func TestInvalidDebugLevelExits125(t *testing.T) {
	r := np(t, runOpts{env: []string{"NP_DEBUG=loud"}}, "run", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "NP_DEBUG") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestInvalidPtraceSwitchesExit125(t *testing.T) {
	for _, v := range []string{"NP_PTRACE_NO_SECCOMP", "NP_PTRACE_NO_NOTIFY"} {
		r := np(t, runOpts{env: []string{v + "=yes"}}, "run", "true")
		if r.code != 125 || !strings.Contains(r.stderr, v) || !strings.Contains(r.stderr, "0, 1") {
			t.Errorf("%s=yes: exit %d stderr %q", v, r.code, r.stderr)
		}
	}
}

func TestUnknownCommandExits125(t *testing.T) {
	r := np(t, runOpts{}, "frobnicate")
	if r.code != 125 || !strings.Contains(r.stderr, "frobnicate") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestSymlinkNamedAfterToolRunsIt(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "nix-instantiate")
	if err := os.Symlink(npBin, link); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSpace(must(t, np(t, runOpts{bin: link}, "--version")))
	if out != "nix-instantiate (Nix) "+nixVersion {
		t.Fatalf("nix-instantiate --version via a link printed %q", out)
	}
}

func TestLinkCommandCreatesToolLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	must(t, np(t, runOpts{}, "link", dir))
	for _, tool := range []string{"nix", "nix-shell", "nix-build", "nix-store", "nix-env", "nix-channel"} {
		target, err := os.Readlink(filepath.Join(dir, tool))
		if err != nil || target != npBin {
			t.Fatalf("%s: link to %q (%v), want %q", tool, target, err, npBin)
		}
	}
	out := strings.TrimSpace(must(t, np(t, runOpts{bin: filepath.Join(dir, "nix-store")}, "--version")))
	if out != "nix-store (Nix) "+nixVersion {
		t.Fatalf("linked nix-store --version printed %q", out)
	}
	// Running it again replaces its own links and succeeds.
	must(t, np(t, runOpts{}, "link", dir))
}

func TestVersionAndHelp(t *testing.T) {
	out := must(t, np(t, runOpts{}, "--version"))
	// The architecture is uname -m's name of the one the test runs on: a
	// test binary built for arm64 runs bin/np-aarch64 (the arm64 VM).
	machine := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	for _, want := range []string{"np ", "(linux " + machine + ")", "nix (Nix) " + nixVersion, "payload "} {
		if !strings.Contains(out, want) {
			t.Errorf("np --version lacks %q:\n%s", want, out)
		}
	}
	help := must(t, np(t, runOpts{}, "--help"))
	for _, want := range []string{"np run", "np doctor", "np link", "NP_LOCATION", "NP_RUNTIME", "NP_DEBUG", "NP_GIT"} {
		if !strings.Contains(help, want) {
			t.Errorf("np --help lacks %q", want)
		}
	}
	if out := must(t, np(t, runOpts{}, "help", "run")); !strings.Contains(out, "np run PROGRAM") {
		t.Errorf("np help run printed %q", out)
	}
}

func TestBinaryStdinPassesThrough(t *testing.T) {
	in := []byte("a\x00b\xff\n\x00")
	r := np(t, runOpts{stdin: in}, "run", "cat")
	if !bytes.Equal([]byte(must(t, r)), in) {
		t.Fatalf("cat inside np returned %q, want %q", r.stdout, in)
	}
}

func TestArgumentsPassThroughExactly(t *testing.T) {
	out := must(t, np(t, runOpts{}, "run", "printf", "[%s]", "a b", "", "c\td", "$HOME", "*"))
	if want := "[a b][][c\td][$HOME][*]"; out != want {
		t.Fatalf("printf inside np printed %q, want %q", out, want)
	}
}

func TestEnvironmentAndCwdPassThrough(t *testing.T) {
	dir := t.TempDir()
	out := must(t, np(t, runOpts{dir: dir, env: []string{"NP_TEST_VALUE=x y=z"}}, "run", "sh", "-c", `pwd; printf '%s\n' "$NP_TEST_VALUE"`))
	if want := dir + "\nx y=z\n"; out != want {
		t.Fatalf("inside np: %q, want %q", out, want)
	}
}

func TestNpLeaksNoFDsOfItsOwn(t *testing.T) {
	// Whatever fds the test itself inherited reach both alike; np must add
	// none of its own (payload file, pipes, the Go runtime's).
	bare := exec.Command("sh", "-c", "ls /proc/$$/fd")
	want, err := bare.Output()
	if err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"ns":     {"run", "sh", "-c", "ls /proc/$$/fd"},
		"native": append(nestedNp(), "run", "sh", "-c", "ls /proc/$$/fd"),
	} {
		out := must(t, np(t, runOpts{}, args...))
		if got := strings.Fields(out); strings.Join(got, " ") != strings.Join(strings.Fields(string(want)), " ") {
			t.Fatalf("%s: open fds inside np: %v, without np: %v", name, got, strings.Fields(string(want)))
		}
	}
}

func TestRootIsReadOnlyAndNixIsWritable(t *testing.T) {
	// ns builds a read-only root; under ptrace / is the host's, which an
	// unprivileged user cannot write either.
	want := map[bool]string{true: "Read-only", false: "Permission denied"}[pass == "ns"]
	r := np(t, runOpts{}, "run", "sh", "-c", "touch /np-forbidden")
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("touch /np-forbidden: exit %d stderr %q; want an error saying %q", r.code, r.stderr, want)
	}
	must(t, np(t, runOpts{}, "run", "sh", "-c", "touch /nix/var/np-probe && rm /nix/var/np-probe"))
}

func TestNoCapabilitiesInside(t *testing.T) {
	out := must(t, np(t, runOpts{}, "run", "grep", "-E", "^Cap(Eff|Amb)", "/proc/self/status"))
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasSuffix(l, "0000000000000000") {
			t.Fatalf("capabilities inside np: %q", l)
		}
	}
}

func TestNestedNpUsesNativeRuntime(t *testing.T) {
	r := np(t, runOpts{env: []string{"NP_DEBUG=1"}}, append(nestedNp(), "nix-store", "--version")...)
	if got := strings.TrimSpace(must(t, r)); got != "nix-store (Nix) "+nixVersion {
		t.Fatalf("nested np printed %q", got)
	}
	if !strings.Contains(r.stderr, "runtime native") {
		t.Fatalf("nested np did not pick the native runtime:\n%s", r.stderr)
	}
}

// nestedNp is `np run` of np itself, choosing its runtime as a user's would:
// the pass's NP_RUNTIME would otherwise reach it through the environment.
func nestedNp() []string {
	return append([]string{"run"}, withoutPassRuntime(npBin)...)
}

func TestHardLinkNamedAfterToolRunsIt(t *testing.T) {
	// A copy of our own: the kernel refuses hard links to another user's
	// file (fs.protected_hardlinks).
	dir := t.TempDir()
	data, err := os.ReadFile(npBin)
	if err != nil {
		t.Fatal(err)
	}
	own, link := filepath.Join(dir, "np"), filepath.Join(dir, "nix-store")
	if err := os.WriteFile(own, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(own, link); err != nil {
		t.Fatal(err)
	}
	if out := strings.TrimSpace(must(t, np(t, runOpts{bin: link}, "--version"))); out != "nix-store (Nix) "+nixVersion {
		t.Fatalf("hard link nix-store --version printed %q", out)
	}
}

func TestRuntimeChoiceErrorsAndAliases(t *testing.T) {
	for _, alias := range []string{"ptrace", "proot"} {
		if r := np(t, runOpts{env: []string{"NP_RUNTIME=" + alias, "NP_DEBUG=1"}}, "run", "true"); r.code != 0 || !strings.Contains(r.stderr, "runtime ptrace") {
			t.Errorf("NP_RUNTIME=%s: exit %d stderr %q", alias, r.code, r.stderr)
		}
	}
	if r := np(t, runOpts{env: []string{"NP_RUNTIME=native"}}, "run", "true"); r.code != 125 || !strings.Contains(r.stderr, "writable /nix/store") {
		t.Errorf("NP_RUNTIME=native without /nix: exit %d stderr %q", r.code, r.stderr)
	}
	for _, alias := range []string{"bwrap", "ns"} {
		if r := np(t, runOpts{env: []string{"NP_RUNTIME=" + alias, "NP_DEBUG=1"}}, "run", "true"); r.code != 0 || !strings.Contains(r.stderr, "runtime ns") {
			t.Errorf("NP_RUNTIME=%s: exit %d stderr %q", alias, r.code, r.stderr)
		}
	}
}

func TestNPGitPutsGitOnPath(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("this test needs a host git: %v", err)
	}
	out := must(t, np(t, runOpts{env: []string{"NP_GIT=" + git}}, "run", "sh", "-c", "command -v git; git --version"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], ".nix-portable/bin/git") || !strings.HasPrefix(lines[1], "git version") {
		t.Fatalf("inside np with NP_GIT: %q", out)
	}
}
