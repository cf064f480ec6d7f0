//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The programs bundled here are built offline by np's own Nix: shell
// scripts whose interpreter is np's busybox (another store path) and which
// call another store path's program, so a bundle works only if it carries
// and installs the whole closure.

// greetScript says hello to each argument, shouting through shout (a
// program of another store path), reports its working directory, and exits
// or dies as told by GREET_EXIT / GREET_KILL.
const greetScript = `#!@bb@/bin/sh
for a in "$@"; do echo "hello <$a>"; done | @shout@/bin/shout
echo "cwd=$(@bb@/bin/pwd)" >&2
if [ -n "$GREET_KILL" ]; then kill -"$GREET_KILL" $$; fi
exit "${GREET_EXIT:-0}"
`

const shoutScript = `#!@bb@/bin/sh
exec @bb@/bin/tr a-z A-Z
`

// bundleExpr builds greet (main program greet; its closure: shout and
// busybox), shout on its own, and twin (two programs, no mainProgram).
const bundleExpr = `{ bb }:
let
  bbPath = builtins.storePath bb;
  script = name: text: subst: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "${bbPath}/bin/sh";
    args = [ "-c" ''
      ${bbPath}/bin/mkdir -p $out/bin
      ${bbPath}/bin/sed ${subst} ${builtins.toFile "${name}.in" text} > $out/bin/${name}
      ${bbPath}/bin/chmod +x $out/bin/${name}
    '' ];
  };
  shout = script "shout" (builtins.readFile ./shout.in) "-e 's|@bb@|${bbPath}|g'";
  greet = script "greet" (builtins.readFile ./greet.in) "-e 's|@bb@|${bbPath}|g' -e 's|@shout@|${shout}|g'";
in {
  inherit greet shout;
  twin = derivation {
    name = "twin";
    system = builtins.currentSystem;
    builder = "${bbPath}/bin/sh";
    args = [ "-c" "${bbPath}/bin/mkdir -p $out/bin; ${bbPath}/bin/ln -s ${shout}/bin/shout $out/bin/one; ${bbPath}/bin/ln -s ${shout}/bin/shout $out/bin/two" ];
  };
}
`

var (
	bundleOnce  sync.Once
	bundleDir   string // holds greet.nix and the bundles made from it
	bundleErr   string
	greetBundle string // the bundle of greet
	shoutBundle string // the bundle of shout, another closure
)

// bundles builds the test programs with np and bundles them, once.
func bundles(t *testing.T) (greet, shout string) {
	t.Helper()
	bundleOnce.Do(func() {
		loc := sharedLocation(t)
		dir, err := os.MkdirTemp("", "np-bundles-")
		if err != nil {
			bundleErr = err.Error()
			return
		}
		bundleDir = dir
		bbs, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "store", "*-busybox-*"))
		if len(bbs) != 1 {
			bundleErr = "cannot find np's busybox in the shared store"
			return
		}
		for name, text := range map[string]string{"greet.in": greetScript, "shout.in": shoutScript, "greet.nix": bundleExpr} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				bundleErr = err.Error()
				return
			}
		}
		bb := "/nix/store/" + filepath.Base(bbs[0])
		for _, b := range []struct{ attr, out string }{{"greet", "greet"}, {"shout", "shout-bundle"}} {
			r := np(t, runOpts{dir: dir}, "bundle", "-o", b.out, "--impure", "-f", "greet.nix", "--argstr", "bb", bb, b.attr)
			if r.code != 0 {
				bundleErr = "np bundle " + b.attr + ": " + r.stderr
				return
			}
		}
		greetBundle, shoutBundle = filepath.Join(dir, "greet"), filepath.Join(dir, "shout-bundle")
	})
	if bundleErr != "" {
		t.Fatal(bundleErr)
	}
	return greetBundle, shoutBundle
}

// bundleNix runs np bundle in the test programs' directory with the
// expression's argument filled in.
func bundleNix(t *testing.T, args ...string) result {
	t.Helper()
	bundles(t)
	bbs, _ := filepath.Glob(filepath.Join(sharedLocation(t), ".nix-portable", "nix", "store", "*-busybox-*"))
	args = append(append([]string{"bundle"}, args...), "--impure", "-f", "greet.nix", "--argstr", "bb", "/nix/store/"+filepath.Base(bbs[0]))
	return np(t, runOpts{dir: bundleDir}, args...)
}

// runAs runs a bundle (or a link to one) as a user whose HOME is home and
// who never heard of np: no NP_LOCATION, so the data dir is HOME's.
func runAs(t *testing.T, home, bin string, env []string, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(userEnv(home), env...)
	cmd.Dir = dir
	return runCmd(t, cmd)
}

func userEnv(home string) []string {
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home)
}

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	r := result{stdout: out.String(), stderr: errb.String(), code: ws.ExitStatus()}
	if ws.Signaled() {
		r.signal = ws.Signal()
	}
	return r
}

// emptyHome is a fresh home directory, as a user who never ran np has.
func emptyHome(t *testing.T) string {
	t.Helper()
	return newLocation(t)
}

const greetWant = "HELLO <BIG WORLD>\nHELLO <A  B>\nHELLO <>\n"

func TestBundleRunsAsAnotherUserWithEmptyHome(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	cwd := t.TempDir()
	r := runAs(t, home, greet, nil, cwd, "big world", "a  b", "")
	if r.code != 0 || r.signal != 0 || r.stdout != greetWant {
		t.Fatalf("bundle: exit %d signal %v\nstdout %q, want %q\nstderr %s", r.code, r.signal, r.stdout, greetWant, r.stderr)
	}
	if !strings.Contains(r.stderr, "cwd="+cwd+"\n") {
		t.Fatalf("the program did not run in the caller's directory %s: stderr %q", cwd, r.stderr)
	}
	store := filepath.Join(home, ".nix-portable", "nix", "store")
	if nix, _ := filepath.Glob(filepath.Join(store, "*-nix-2*")); len(nix) != 0 {
		t.Fatalf("a bundle of a closure without Nix installed Nix: %v", nix)
	}
	if greets, _ := filepath.Glob(filepath.Join(store, "*-greet")); len(greets) != 1 {
		t.Fatalf("the bundle did not install greet into %s", store)
	}

	if r := runAs(t, home, greet, []string{"GREET_EXIT=3"}, cwd, "x"); r.code != 3 || r.stdout != "HELLO <X>\n" {
		t.Fatalf("exit status: got exit %d signal %v stdout %q, want 3", r.code, r.signal, r.stdout)
	}
	if r := runAs(t, home, greet, []string{"GREET_KILL=TERM"}, cwd); r.signal != syscall.SIGTERM {
		t.Fatalf("death by signal: got exit %d signal %v, want death by SIGTERM\n%s", r.code, r.signal, r.stderr)
	}
}

func TestBundleSecondRunDoesNotReadThePayload(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	copyPath := filepath.Join(t.TempDir(), "greet")
	data, err := os.ReadFile(greet)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := runAs(t, home, copyPath, nil, "", "one"); r.stdout != "HELLO <ONE>\n" {
		t.Fatalf("first run: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	// Overwrite the middle of the payload: a run that read it would fail
	// its checksum.
	f, err := os.OpenFile(copyPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0xff}, 4096)
	if _, err := f.WriteAt(junk, int64(len(data))-200000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r := runAs(t, home, copyPath, nil, "", "two"); r.stdout != "HELLO <TWO>\n" {
		t.Fatalf("second run read the payload: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	// A fresh data dir must read it, and refuses the corrupt payload.
	r := runAs(t, emptyHome(t), copyPath, nil, "", "three")
	if r.code != 125 || !strings.Contains(r.stderr, "checksum mismatch") {
		t.Fatalf("a corrupt bundle on a fresh data dir: exit %d stderr %s", r.code, r.stderr)
	}
}

func TestBundleLinkNamedAfterAnotherProgramRunsIt(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	dir := t.TempDir()
	sym := filepath.Join(dir, "shout")
	if err := os.Symlink(greet, sym); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard", "shout")
	os.Mkdir(filepath.Dir(hard), 0o755)
	if err := os.Link(greet, hard); err != nil {
		// The bundles live in /tmp like this directory; a hard link
		// failing is the machine's problem, not a reason to skip.
		t.Fatal(err)
	}
	for _, link := range []string{sym, hard} {
		cmd := exec.Command(link)
		cmd.Env = userEnv(home)
		cmd.Stdin = strings.NewReader("quiet words\n")
		r := runCmd(t, cmd)
		if r.code != 0 || r.stdout != "QUIET WORDS\n" {
			t.Fatalf("%s: exit %d stdout %q stderr %s", link, r.code, r.stdout, r.stderr)
		}
	}
	// A name that is no program of the closure runs the bundle's own.
	other := filepath.Join(dir, "something-else")
	os.Symlink(greet, other)
	if r := runAs(t, home, other, nil, "", "x"); r.stdout != "HELLO <X>\n" {
		t.Fatalf("a link with another name: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}

// Unlike np run, a bundle gives its program the caller's environment as it
// is: no NIX_* added, nothing removed. busybox's env, reached through a
// link named after it, shows what the program got.
func TestBundleEnvironmentPassesThroughUntouched(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	link := filepath.Join(t.TempDir(), "env")
	if err := os.Symlink(greet, link); err != nil {
		t.Fatal(err)
	}
	env := append(userEnv(home), "LD_LIBRARY_PATH=/opt/gpu/lib", "SPACED=a  b\tc", "EMPTY=")
	cmd := exec.Command(link)
	cmd.Env = env
	r := runCmd(t, cmd)
	if r.code != 0 {
		t.Fatalf("env through a bundle: exit %d stderr %s", r.code, r.stderr)
	}
	got := map[string]bool{}
	for _, kv := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		got[kv] = true
	}
	want := map[string]bool{}
	for _, kv := range env {
		want[kv] = true
	}
	// The ns runtime sets PWD to the directory the program starts in.
	for kv := range got {
		if strings.HasPrefix(kv, "PWD=") {
			delete(got, kv)
		}
	}
	for kv := range want {
		if strings.HasPrefix(kv, "PWD=") {
			delete(want, kv)
		}
	}
	for kv := range want {
		if !got[kv] {
			t.Errorf("the program lacks %q", kv)
		}
	}
	for kv := range got {
		if !want[kv] {
			t.Errorf("the program got %q, which the caller did not set", kv)
		}
	}
}

func TestBundleHelpSaysWhatItIs(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	r := runAs(t, home, greet, nil, "", "--np-help")
	if r.code != 0 || !strings.Contains(r.stdout, "is a bundle made by np bundle") || !strings.Contains(r.stdout, "-greet/bin/greet") ||
		!strings.Contains(r.stdout, "3 store paths") || !strings.Contains(r.stdout, "not yet") {
		t.Fatalf("--np-help: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, ".nix-portable")); err == nil {
		t.Fatal("--np-help created the data dir")
	}
	// NP_* variables work as for np.
	if r := runAs(t, home, greet, []string{"NP_RUNTIME=bogus"}, ""); r.code != 125 || !strings.HasPrefix(r.stderr, "np: NP_RUNTIME=") {
		t.Fatalf("NP_RUNTIME=bogus: exit %d stderr %q", r.code, r.stderr)
	}
	loc := newLocation(t)
	if r := runAs(t, home, greet, []string{"NP_LOCATION=" + loc}, "", "x"); r.stdout != "HELLO <X>\n" {
		t.Fatalf("NP_LOCATION: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(loc, ".nix-portable", "nix", "store")); err != nil {
		t.Fatalf("the bundle did not install into NP_LOCATION: %v", err)
	}
}

func TestTwoBundlesConcurrentlyOnAFreshDataDir(t *testing.T) {
	greet, shout := bundles(t)
	loc := newLocation(t)
	env := []string{"NP_LOCATION=" + loc}
	var wg sync.WaitGroup
	results := make([]result, 4)
	homes := []string{emptyHome(t), emptyHome(t)}
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bin := []string{greet, shout}[i%2]
			cmd := exec.Command(bin, "x")
			cmd.Env = append(userEnv(homes[i%2]), env...)
			cmd.Stdin = strings.NewReader("from stdin\n")
			results[i] = runCmd(t, cmd)
		}()
	}
	wg.Wait()
	for i, r := range results {
		want := []string{"HELLO <X>\n", "FROM STDIN\n"}[i%2]
		if r.code != 0 || r.stdout != want {
			t.Fatalf("run %d: exit %d stdout %q (want %q) stderr %s", i, r.code, r.stdout, want, r.stderr)
		}
	}
	// np shares the data dir: it registers both bundles' paths with Nix
	// before anything else, so its garbage collector keeps them and
	// nix-store --verify finds the store consistent.
	must(t, np(t, runOpts{loc: loc}, "nix-collect-garbage"))
	for i, bin := range []string{greet, shout} {
		cmd := exec.Command(bin, "y")
		cmd.Env = append(userEnv(emptyHome(t)), env...)
		cmd.Stdin = strings.NewReader("after gc\n")
		r := runCmd(t, cmd)
		if want := []string{"HELLO <Y>\n", "AFTER GC\n"}[i]; r.stdout != want {
			t.Fatalf("after np's garbage collection, %s: exit %d stdout %q stderr %s", bin, r.code, r.stdout, r.stderr)
		}
	}
	out := must(t, np(t, runOpts{loc: loc}, "nix-store", "-q", "--roots", greetOutput(t, loc)))
	if !strings.Contains(out, "np-bundles") {
		t.Fatalf("greet has no GC root of its bundle:\n%s", out)
	}
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"))
	if pending, _ := os.ReadDir(filepath.Join(loc, ".nix-portable", "nix", "var", "np", "pending")); len(pending) != 0 {
		t.Fatalf("registrations left pending after np ran: %d", len(pending))
	}
}

// A bundle run inside np runs natively in np's /nix, where np's Nix is on
// PATH: it registers its paths itself, at once, instead of leaving them
// for np's next run.
func TestBundleInsideNpRegistersItsPathsAtOnce(t *testing.T) {
	greet, _ := bundles(t)
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "nix", "--version"))
	if out := must(t, np(t, runOpts{loc: loc}, append([]string{"run"}, withoutPassRuntime(greet, "inside")...)...)); out != "HELLO <INSIDE>\n" {
		t.Fatalf("bundle inside np: %q", out)
	}
	if pending, _ := os.ReadDir(filepath.Join(loc, ".nix-portable", "nix", "var", "np", "pending")); len(pending) != 0 {
		t.Fatalf("the bundle left %d registrations pending although Nix was at hand", len(pending))
	}
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--check-validity", greetOutput(t, loc)))
}

// greetOutput is greet's store path as Nix names it.
func greetOutput(t *testing.T, loc string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "store", "*-greet"))
	if len(m) != 1 {
		t.Fatalf("greet is not in the store of %s", loc)
	}
	return "/nix/store/" + filepath.Base(m[0])
}

func TestBundleIsMuchSmallerThanNpAndReproducible(t *testing.T) {
	greet, _ := bundles(t)
	st, err := os.Stat(greet)
	if err != nil {
		t.Fatal(err)
	}
	npSt, _ := os.Stat(npBin)
	if st.Size()*3 > npSt.Size() {
		t.Fatalf("bundle of a 3-path closure is %d bytes, np %d: not much smaller", st.Size(), npSt.Size())
	}
	must(t, bundleNix(t, "-o", "greet-again", "greet"))
	a, _ := os.ReadFile(greet)
	b, _ := os.ReadFile(filepath.Join(bundleDir, "greet-again"))
	if !bytes.Equal(a, b) {
		t.Fatalf("the same closure gave a different bundle (%d and %d bytes)", len(a), len(b))
	}
	must(t, bundleNix(t, "-o", "greet-fast", "--compress", "fast", "greet"))
	r := runAs(t, emptyHome(t), filepath.Join(bundleDir, "greet-fast"), nil, "", "fast")
	if r.stdout != "HELLO <FAST>\n" {
		t.Fatalf("bundle made with --compress fast: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestBundleChoosesItsProgramOrSaysHow(t *testing.T) {
	bundles(t)
	r := bundleNix(t, "-o", "twin-bundle", "twin")
	if r.code != 125 || !strings.Contains(r.stderr, "--program") || !strings.Contains(r.stderr, "one, two") {
		t.Fatalf("twin without --program: exit %d stderr %q", r.code, r.stderr)
	}
	must(t, bundleNix(t, "-o", "twin-bundle", "--program", "two", "twin"))
	cmd := exec.Command(filepath.Join(bundleDir, "twin-bundle"))
	cmd.Env = userEnv(emptyHome(t))
	cmd.Stdin = strings.NewReader("two\n")
	if r := runCmd(t, cmd); r.stdout != "TWO\n" {
		t.Fatalf("twin --program two: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if r := np(t, runOpts{}, "bundle"); r.code != 125 || !strings.HasPrefix(r.stderr, "np: ") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("np bundle without installable: exit %d stderr %q", r.code, r.stderr)
	}
	// The default file name is the program's; a file that is not a bundle
	// is never overwritten.
	os.WriteFile(filepath.Join(bundleDir, "shout"), []byte("mine"), 0o644)
	if r := bundleNix(t, "shout"); r.code != 125 || !strings.Contains(r.stderr, "not a bundle") {
		t.Fatalf("np bundle over a file of the user's: exit %d stderr %q", r.code, r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(bundleDir, "shout")); string(data) != "mine" {
		t.Fatal("np bundle overwrote a file that is not a bundle")
	}
}

// The usual way in: a flake reference, whose package names its main
// program in meta.mainProgram.
func TestBundleOfAFlakeRunsItsMainProgram(t *testing.T) {
	bundles(t)
	flake := filepath.Join(bundleDir, "flake")
	os.Mkdir(flake, 0o755)
	for name, text := range map[string]string{"greet.in": greetScript, "shout.in": shoutScript, "pkgs.nix": bundleExpr,
		"flake.nix": `{ outputs = { self }: let pkgs = import ./pkgs.nix { bb = builtins.getEnv "TEST_BB"; }; in {
  packages.${builtins.currentSystem}.default = pkgs.twin // { meta.mainProgram = "two"; };
}; }`} {
		if err := os.WriteFile(filepath.Join(flake, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bbs, _ := filepath.Glob(filepath.Join(sharedLocation(t), ".nix-portable", "nix", "store", "*-busybox-*"))
	r := np(t, runOpts{dir: bundleDir, env: []string{"TEST_BB=/nix/store/" + filepath.Base(bbs[0])}},
		"bundle", "--impure", "path:"+flake)
	must(t, r)
	cmd := exec.Command(filepath.Join(bundleDir, "two"))
	cmd.Env = userEnv(emptyHome(t))
	cmd.Stdin = strings.NewReader("flake\n")
	if r := runCmd(t, cmd); r.stdout != "FLAKE\n" {
		t.Fatalf("the flake's bundle: exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
}

// A host without user namespaces (CentOS 7): the bundle must fall back to
// the ptrace runtime, first run and later runs alike.
func TestBundleWithoutUserNamespacesFallsBackToPtrace(t *testing.T) {
	greet, _ := bundles(t)
	home := emptyHome(t)
	for _, run := range []string{"first", "second"} {
		script := `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`
		cmd := exec.Command(lookPath(t, "unshare"), "--user", "--map-root-user", "sh", "-c", script, "sh", greet, "big world", "a  b", "")
		cmd.Env = append(userEnv(home), "NP_RUNTIME=auto") // the bundle chooses, as a user's would
		r := runResult(t, cmd)
		if r.code != 0 || r.stdout != greetWant {
			t.Fatalf("%s run without user namespaces: exit %d stdout %q stderr %s", run, r.code, r.stdout, r.stderr)
		}
	}
}

// Docker's default seccomp profile refuses user namespaces: same fallback.
func TestBundleUnderSeccompFallsBackToPtrace(t *testing.T) {
	greet, _ := bundles(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, greet, "big world", "a  b", "")
	cmd.Env = append(userEnv(emptyHome(t)), "NP_TEST_HOSTILE=no-userns", "NP_RUNTIME=auto")
	start := time.Now()
	r := runResult(t, cmd)
	if r.code != 0 || r.stdout != greetWant {
		t.Fatalf("bundle under a seccomp filter refusing user namespaces: exit %d stdout %q stderr %s (%v)", r.code, r.stdout, r.stderr, time.Since(start))
	}
}
