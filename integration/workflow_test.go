//go:build integration

package integration

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// offlineEnv is the environment of a test about np's offline handling: the
// suite's `substituters =` removed, so np sees Nix's defaults as a user
// would. The development machine reaches neither cache.nixos.org nor the
// flake registry; on a machine that does, an HTTPS proxy that is down (a
// closed port on 127.0.0.1) makes them unreachable for np and Nix alike.
// offlineBound tells "did not wait on the network" from "waited": Nix's
// retries of an unreachable cache take 5 s or more, a local build well under
// a second on an idle machine. The bound is a behaviour check, not a speed
// figure (those are in make bench), with room for a loaded CI machine.
const offlineBound = 4 * time.Second

func offlineEnv(t *testing.T) []string {
	t.Helper()
	env := []string{"NIX_CONFIG="}
	for _, host := range []string{"cache.nixos.org:443", "channels.nixos.org:443"} {
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Logf("%s is reachable from here: going offline through a proxy that is down", host)
			return append(env, "https_proxy=http://127.0.0.1:"+strconv.Itoa(freePort(t)), "no_proxy=")
		}
	}
	return env
}

// networkLines are the lines of stderr that are about the network.
func networkLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if regexp.MustCompile(`(?i)download|cache\.nixos\.org|channels\.nixos\.org|resolve|offline|network`).MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestOfflineBuildAndShellDoNotWait(t *testing.T) {
	loc := newLocation(t)
	offline := offlineEnv(t)
	must(t, np(t, runOpts{loc: loc, env: offline}, "nix", "--version")) // the install is not what is timed
	// np's probe of the network is part of what is timed.
	if err := os.Remove(filepath.Join(loc, ".nix-portable", "network.json")); err != nil {
		t.Fatalf("np kept no record of its network probe: %v", err)
	}
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "local.nix"), `derivation {
  name = "local-build"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "echo built > $out" ]; greeting = "hi";
}`)

	start := time.Now()
	r := np(t, runOpts{loc: loc, env: offline, dir: dir}, "nix-build", "--no-out-link", file)
	took := time.Since(start)
	out := strings.TrimSpace(must(t, r))
	if !strings.HasSuffix(out, "-local-build") {
		t.Fatalf("nix-build printed %q", out)
	}
	if took > offlineBound || strings.Contains(r.stderr, "retrying") {
		t.Errorf("offline nix-build took %v (want < %v) or retried; stderr:\n%s", took, offlineBound, r.stderr)
	}
	if l := networkLines(r.stderr); len(l) > 1 {
		t.Errorf("offline nix-build printed %d lines about the network, want at most 1:\n%s", len(l), strings.Join(l, "\n"))
	}
	// On a terminal, np says why in one line, once per probe.
	os.Remove(filepath.Join(loc, ".nix-portable", "network.json"))
	cmd := npCmd(t, runOpts{loc: loc, env: offline, dir: dir}, "nix-build", "--no-out-link", file)
	tm := startInPty(t, cmd)
	waitBounded(t, cmd, 2*time.Minute)
	tm.expect("-local-build", 1)
	if n := strings.Count(tm.output(), "np: offline: cache.nixos.org and channels.nixos.org unreachable"); n != 1 {
		t.Errorf("on a terminal np said %d times that Nix runs offline, want once:\n%s", n, tm.output())
	}
	t.Logf("offline nix-build: %v", took)

	// HOME without channels: nothing provides <nixpkgs> either.
	start = time.Now()
	r = np(t, runOpts{loc: loc, env: append([]string{"HOME=" + dir}, offline...), dir: dir}, "nix-shell", file, "--run", `echo "in $name: $greeting"`)
	took = time.Since(start)
	if got := strings.TrimSpace(must(t, r)); got != "in local-build: hi" {
		t.Fatalf("nix-shell --run printed %q", got)
	}
	if took > offlineBound || strings.Contains(r.stderr, "retrying") {
		t.Errorf("offline nix-shell took %v (want < %v) or retried; stderr:\n%s", took, offlineBound, r.stderr)
	}
	if l := networkLines(r.stderr); len(l) > 1 {
		t.Errorf("offline nix-shell printed %d lines about the network, want at most 1:\n%s", len(l), strings.Join(l, "\n"))
	}
	if strings.Contains(r.stderr, "error") {
		t.Errorf("offline nix-shell printed an error:\n%s", r.stderr)
	}
	t.Logf("offline nix-shell: %v", took)
}

// nixSetting is Nix's effective value of a setting, as np runs Nix.
func nixSetting(t *testing.T, o runOpts, name string, extra ...string) string {
	t.Helper()
	args := append([]string{"nix", "config", "show", name}, extra...)
	return strings.TrimSpace(must(t, np(t, o, args...)))
}

func TestOfflineDefaultsOnlyWhenUnreachableAndUnset(t *testing.T) {
	loc := newLocation(t)
	offline := offlineEnv(t)
	o := runOpts{loc: loc, env: offline}
	if got := nixSetting(t, o, "substituters"); got != "" {
		t.Errorf("offline: substituters = %q, want empty", got)
	}
	if got := nixSetting(t, o, "flake-registry"); got != "" {
		t.Errorf("offline: flake-registry = %q, want empty", got)
	}
	if got := must(t, np(t, o, "run", "sh", "-c", `printf %s "$NIX_PATH"`)); strings.Contains(got, "flake:") {
		t.Errorf("offline: NIX_PATH %q still needs the flake registry", got)
	}

	// What the user set always wins: NIX_CONFIG, their nix.conf, --option.
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "nix"), 0o755)
	writeFile(t, filepath.Join(home, ".config", "nix", "nix.conf"), "substituters = file:///from-nix-conf\n")
	for name, c := range map[string]struct {
		env   []string
		extra []string
		want  string
	}{
		"NIX_CONFIG": {env: []string{"NIX_CONFIG=substituters = file:///from-env"}, want: "file:///from-env"},
		"nix.conf":   {env: []string{"NIX_CONFIG=", "HOME=" + home}, want: "file:///from-nix-conf"},
		"--option":   {env: offline, extra: []string{"--option", "substituters", "file:///from-option"}, want: "file:///from-option"},
	} {
		if got := nixSetting(t, runOpts{loc: loc, env: c.env}, "substituters", c.extra...); got != c.want {
			t.Errorf("%s: substituters = %q, want %q", name, got, c.want)
		}
	}
	if got := must(t, np(t, runOpts{loc: loc, env: []string{"NIX_PATH=nixpkgs=flake:nixpkgs"}}, "run", "sh", "-c", `printf %s "$NIX_PATH"`)); got != "nixpkgs=flake:nixpkgs" {
		t.Errorf("the user's NIX_PATH became %q", got)
	}
}

func TestReachableServersChangeNothing(t *testing.T) {
	// A real listener stands in for the HTTPS proxy Nix's curl would use:
	// through it the servers count as reachable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	o := runOpts{loc: newLocation(t), env: []string{"NIX_CONFIG=", "https_proxy=http://" + ln.Addr().String()}}
	if got := nixSetting(t, o, "substituters"); got != "https://cache.nixos.org/" {
		t.Errorf("reachable: substituters = %q, want Nix's default", got)
	}
	if got := nixSetting(t, o, "flake-registry"); got != "https://channels.nixos.org/flake-registry.json" {
		t.Errorf("reachable: flake-registry = %q, want Nix's default", got)
	}
	if got := must(t, np(t, o, "run", "sh", "-c", `printf %s "$NIX_PATH"`)); !strings.HasSuffix(got, "nixpkgs=flake:nixpkgs") {
		t.Errorf("reachable: NIX_PATH %q lost nixpkgs=flake:nixpkgs", got)
	}
}

func TestRunHelpIsNpRunsAndProgramHelpPassesThrough(t *testing.T) {
	if out := must(t, np(t, runOpts{}, "run", "--help")); !strings.Contains(out, "Usage: np run PROGRAM") {
		t.Errorf("np run --help printed %q", out)
	}
	if out := must(t, np(t, runOpts{}, "run", "sh", "-c", `printf '%s\n' "$@"`, "sh", "--help")); out != "--help\n" {
		t.Errorf("np run sh -c ... --help passed %q, want --help to reach the program", out)
	}
}

func TestDoctorJSONEmptyListsAndUncreatedDataDir(t *testing.T) {
	for name, loc := range map[string]string{
		"existing":  t.TempDir(),
		"uncreated": filepath.Join(t.TempDir(), "not", "yet"),
	} {
		r := np(t, runOpts{loc: loc}, "doctor", "--json")
		if r.code != 0 {
			t.Fatalf("%s: np doctor --json exit %d: %s", name, r.code, r.stderr)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, r.stdout)
		}
		if got := string(raw["warnings"]); got != "[]" {
			t.Errorf("%s data dir: warnings = %s, want []", name, got)
		}
	}
}

func TestNestedNpHonoursInnerLocation(t *testing.T) {
	outer := sharedLocation(t)
	inner := newLocation(t)
	expr := `derivation { name = "inner-only"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo inner > $out"]; }`
	r := np(t, runOpts{env: []string{"NP_DEBUG=1"}}, append([]string{"run"}, withoutPassRuntime("NP_LOCATION="+inner, npBin, "nix-build", "--no-out-link", "-E", expr)...)...)
	path := strings.TrimSpace(must(t, r))
	if !strings.Contains(r.stderr, "runtime ns") {
		t.Errorf("the inner np did not start its own namespace:\n%s", r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(inner, ".nix-portable", "nix", "store", filepath.Base(path))); err != nil || string(data) != "inner\n" {
		t.Fatalf("the build is not in the inner data dir's store: %q (%v)", data, err)
	}
	if _, err := os.Lstat(filepath.Join(outer, ".nix-portable", "nix", "store", filepath.Base(path))); err == nil {
		t.Fatalf("the inner np built into the outer store")
	}
	// NP_RUNTIME=native cannot honour another NP_LOCATION, and says so.
	r = np(t, runOpts{}, "run", "env", "NP_LOCATION="+inner, "NP_RUNTIME=native", npBin, "run", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "NP_LOCATION="+inner) {
		t.Fatalf("nested NP_RUNTIME=native with another NP_LOCATION: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestOwnStorePathsAreTrustedAfterInstall(t *testing.T) {
	loc := newLocation(t)
	r := np(t, runOpts{loc: loc}, "nix", "store", "verify", "--all")
	if r.code != 0 || strings.Contains(r.stderr, "untrusted") {
		t.Fatalf("nix store verify --all after install: exit %d\n%s", r.code, r.stderr)
	}
	// The key np signed with is gone: nothing else can be signed with it.
	conf := filepath.Join(loc, ".nix-portable", "conf")
	entries, _ := os.ReadDir(conf)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sec") {
			t.Errorf("a secret key was left in %s: %s", conf, e.Name())
		}
	}
	// A path np did not sign stays untrusted: the trust is np's paths only.
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "f"), "not np's\n")
	added := strings.TrimSpace(must(t, np(t, runOpts{loc: loc}, "nix-store", "--add", file)))
	if out := must(t, np(t, runOpts{loc: loc}, "nix", "path-info", "--sigs", added)); strings.Contains(out, "np-install:") {
		t.Errorf("a path added later carries np's signature: %s", out)
	}
}

// programExpr is a derivation whose output is a program named name that
// prints its name and arguments and exits with $NP_TEST_STATUS.
func programExpr(name string) string {
	return `derivation {
  name = "` + name + `"; system = builtins.currentSystem; builder = "/bin/sh";
  script = "#!/bin/sh\nprintf '[%s]' \"$(basename \"$0\")\" \"$@\"; echo; exit $NP_TEST_STATUS\n";
  args = [ "-c" "PATH=/usr/bin:/bin:$PATH; mkdir -p $out/bin; printf '%s' \"$script\" > $out/bin/` + name + `; chmod +x $out/bin/` + name + `" ];
}`
}

// hostShell runs script with sh, outside np, the way a user's shell would.
func hostShell(t *testing.T, env []string, script string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestExposedProgramsRunFromAPlainShellAndFollowTheProfile(t *testing.T) {
	loc := newLocation(t)
	home := t.TempDir()
	o := runOpts{loc: loc, env: []string{"HOME=" + home}}
	must(t, np(t, o, "nix-env", "-i", "-E", "_: "+programExpr("np-first")))
	bin := filepath.Join(t.TempDir(), "bin")
	if out := must(t, np(t, o, "expose", bin)); !strings.Contains(out, "exposed 1 program of ") || !strings.Contains(out, "PATH=") {
		t.Fatalf("np expose printed %q", out)
	}

	// A plain shell, no np in sight: DIR on PATH, the program by its name.
	path := []string{"PATH=" + bin + ":/usr/bin:/bin"}
	out, code := hostShell(t, append(path, "NP_TEST_STATUS=3"), `np-first 'a b' '' '*'`)
	if out != "[np-first][a b][][*]\n" || code != 3 {
		t.Fatalf("np-first from a plain shell: %q exit %d; want its name, arguments and status 3", out, code)
	}
	// Death by a signal is the caller's to see.
	cmd := exec.Command(filepath.Join(bin, "np-first"))
	cmd.Env = append(cleanEnv(), path...)
	cmd.Env = append(cmd.Env, "NP_TEST_STATUS=x") // not a number: sh fails with 2
	cmd.Run()
	if cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("np-first with a bad status: exit %d", cmd.ProcessState.ExitCode())
	}

	// Installed after np expose, without running it again.
	must(t, np(t, o, "nix-env", "-i", "-E", "_: "+programExpr("np-later")))
	if out, code := hostShell(t, path, `np-later x`); out != "[np-later][x]\n" || code != 0 {
		t.Fatalf("np-later, installed after np expose: %q exit %d", out, code)
	}
	// Removed, and back with a rollback.
	must(t, np(t, o, "nix-env", "-e", "np-later"))
	if _, err := os.Stat(filepath.Join(bin, "np-later")); err == nil {
		t.Fatalf("np-later's wrapper outlived nix-env -e")
	}
	must(t, np(t, o, "nix-env", "--rollback"))
	if out, _ := hostShell(t, path, `np-later y`); out != "[np-later][y]\n" {
		t.Fatalf("np-later after a rollback: %q", out)
	}

	// A file of the user's own in DIR is left alone; --remove takes the rest.
	writeFile(t, filepath.Join(bin, "mine"), "keep me\n")
	must(t, np(t, o, "expose", "--remove", bin))
	entries, _ := os.ReadDir(bin)
	if len(entries) != 1 || entries[0].Name() != "mine" {
		t.Fatalf("after np expose --remove, %s holds %v; want only the user's own file", bin, entries)
	}
	must(t, np(t, o, "nix-env", "-e", "np-first"))
	if entries, _ := os.ReadDir(bin); len(entries) != 1 {
		t.Fatalf("a removed expose dir was synced again: %v", entries)
	}
}

func TestExposeFollowsNixProfile(t *testing.T) {
	loc := newLocation(t)
	home := t.TempDir()
	o := runOpts{loc: loc, env: []string{"HOME=" + home}}
	bin := filepath.Join(t.TempDir(), "bin")
	if out := must(t, np(t, o, "expose", bin)); !strings.Contains(out, "exposed 0 programs") {
		t.Fatalf("np expose of an empty profile printed %q", out)
	}
	must(t, np(t, o, "nix", "profile", "add", "--impure", "--expr", programExpr("np-profiled")))
	path := []string{"PATH=" + bin + ":/usr/bin:/bin"}
	if out, code := hostShell(t, path, `np-profiled z`); out != "[np-profiled][z]\n" || code != 0 {
		t.Fatalf("np-profiled after nix profile add: %q exit %d", out, code)
	}
	must(t, np(t, o, "nix", "profile", "remove", "np-profiled"))
	if _, err := os.Stat(filepath.Join(bin, "np-profiled")); err == nil {
		t.Fatalf("np-profiled's wrapper outlived nix profile remove")
	}
	// The spelling of Nix before 2.30 still works, with Nix's one-line hint.
	r := np(t, o, "nix", "profile", "install", "--impure", "--expr", programExpr("np-old-spelling"))
	must(t, r)
	if !strings.Contains(r.stderr, "'install' is a deprecated alias for 'add'") {
		t.Errorf("nix profile install gave no hint to use add: %q", r.stderr)
	}
	if out, code := hostShell(t, path, `np-old-spelling z`); out != "[np-old-spelling][z]\n" || code != 0 {
		t.Fatalf("np-old-spelling after nix profile install: %q exit %d", out, code)
	}
}

func TestLegacyToolsHelpShowsTheManPage(t *testing.T) {
	for _, tool := range []string{"nix-build", "nix-shell", "nix-env", "nix-store", "nix-channel", "nix-instantiate"} {
		out := strings.ToLower(must(t, np(t, runOpts{}, tool, "--help")))
		if !strings.Contains(out, "synopsis") || !strings.Contains(out, tool+" ") {
			t.Errorf("np %s --help (host man) shows no synopsis:\n%s", tool, out)
		}
	}
	// A host without man: np shows the text itself.
	noMan := []string{"PATH=" + t.TempDir()}
	out := must(t, np(t, runOpts{env: noMan}, "nix-build", "--help"))
	for _, want := range []string{"NIX-BUILD(1)", "SYNOPSIS", "nix-build [paths…]", "--no-out-link"} {
		if !strings.Contains(out, want) {
			t.Errorf("np nix-build --help without a host man lacks %q:\n%s", want, out)
		}
	}
	if out := must(t, np(t, runOpts{}, "nix", "--help")); !strings.Contains(out, "nix build") {
		t.Errorf("np nix --help printed %q", out)
	}
	must(t, np(t, runOpts{}, "run", "sh", "-c", `test -s "$NIX_DATA_DIR/man/man1/nix-build.1.gz"`))
	// Other pages are the host man's business; without one, man's answer.
	if r := np(t, runOpts{env: noMan}, "run", "man", "no-such-page"); r.code != 16 || !strings.Contains(r.stderr, "No manual entry for no-such-page") {
		t.Errorf("man no-such-page without a host man: exit %d stderr %q", r.code, r.stderr)
	}
}

// writeTarGz packs files (path: content, one directory level) into a .tar.gz.
func writeTarGz(t *testing.T, name string, files map[string]string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := gzip.NewWriter(f)
	tw := tar.NewWriter(z)
	dirs := map[string]bool{}
	for _, p := range sortedNames(files) {
		if d := filepath.Dir(p); d != "." && !dirs[d] {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		}
		tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(files[p])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[p]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

func sortedNames(m map[string]string) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func TestChannelProvidesNixpkgsOffline(t *testing.T) {
	// A channel from a file URL: nix-channel works without the network,
	// and np's offline defaults leave <nixpkgs> to the channel.
	channel := filepath.Join(t.TempDir(), "nixexprs.tar.gz")
	writeTarGz(t, channel, map[string]string{"nixpkgs-test/default.nix": `{ ... }: {
  hello = derivation { name = "hello-channel"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "PATH=/usr/bin:/bin:$PATH; mkdir -p $out/bin; printf '#!/bin/sh\necho hello from the channel\n' > $out/bin/hello-channel; chmod +x $out/bin/hello-channel" ]; };
}`})
	o := runOpts{loc: newLocation(t), env: append([]string{"HOME=" + t.TempDir()}, offlineEnv(t)...)}
	must(t, np(t, o, "nix-channel", "--add", "file://"+channel, "nixpkgs"))
	must(t, np(t, o, "nix-channel", "--update"))
	if out := must(t, np(t, o, "nix-channel", "--list")); !strings.HasPrefix(out, "nixpkgs file://") {
		t.Fatalf("nix-channel --list printed %q", out)
	}
	must(t, np(t, o, "nix-env", "-iA", "nixpkgs.hello"))
	if out := must(t, np(t, o, "run", "hello-channel")); out != "hello from the channel\n" {
		t.Fatalf("hello-channel from the channel printed %q", out)
	}
}

func TestFlakesWithAndWithoutGitOffline(t *testing.T) {
	flake := `{
  outputs = { self }: {
    packages.x86_64-linux.default = derivation { name = "from-flake"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo flake > $out" ]; };
  };
}`
	loc := newLocation(t)
	plain := t.TempDir()
	writeFile(t, filepath.Join(plain, "flake.nix"), flake)
	gitDir := t.TempDir()
	writeFile(t, filepath.Join(gitDir, "flake.nix"), flake)
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", gitDir, "-c", "user.name=np", "-c", "user.email=np@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", "flake.nix")
	git("commit", "-q", "-m", "flake")
	for name, ref := range map[string]string{"path": "path:" + plain, "git": "git+file://" + gitDir} {
		start := time.Now()
		r := np(t, runOpts{loc: loc, env: offlineEnv(t)}, "nix", "build", "--no-link", "--print-out-paths", ref)
		out := strings.TrimSpace(must(t, r))
		if !strings.HasSuffix(out, "-from-flake") {
			t.Errorf("%s flake: nix build printed %q\n%s", name, out, r.stderr)
		}
		t.Logf("%s flake offline: %v", name, time.Since(start))
	}
}

func TestNestedNpSaysWhyItCannotHonourInnerLocation(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Inside np, a Docker-like filter refuses new user namespaces: the inner
	// np falls back to ptrace, with the data dir it was given.
	inner := newLocation(t)
	r := np(t, runOpts{}, append([]string{"run"}, withoutPassRuntime("NP_TEST_HOSTILE=no-userns", "NP_LOCATION="+inner, self, npBin, "run", "sh", "-c", "ls /nix/var/np")...)...)
	if r.code != 0 {
		t.Fatalf("nested np, another NP_LOCATION, no user namespaces: exit %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(inner, ".nix-portable", "nix", "store")); err != nil {
		t.Fatalf("the inner np did not use its own NP_LOCATION: %v", err)
	}
	// ptrace refused too: nothing can honour NP_LOCATION, and np says why.
	inner = newLocation(t)
	r = np(t, runOpts{}, append([]string{"run"}, withoutPassRuntime("NP_TEST_HOSTILE=no-userns,no-ptrace", "NP_LOCATION="+inner, self, npBin, "run", "true")...)...)
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, "NP_LOCATION="+inner) || !strings.Contains(r.stderr, "unset NP_LOCATION to use /nix") {
		t.Fatalf("nested np, another NP_LOCATION, no user namespaces nor ptrace: exit %d stderr %q", r.code, r.stderr)
	}
	t.Logf("np said: %s", r.stderr)
}

// np bundle builds with np's offline defaults, as np nix build does: no
// retries of cache.nixos.org (issue 16, 5).
func TestOfflineBundleDoesNotWait(t *testing.T) {
	loc := newLocation(t)
	offline := offlineEnv(t)
	must(t, np(t, runOpts{loc: loc, env: offline}, "nix", "--version")) // the install is not what is timed
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "g.nix"), programExpr("greet"))
	start := time.Now()
	r := np(t, runOpts{loc: loc, env: offline, dir: dir}, "bundle", "--program", "greet", "-o", "gb", "-f", "./g.nix")
	took := time.Since(start)
	must(t, r)
	if took > offlineBound {
		t.Errorf("offline np bundle took %v, want < %v; stderr:\n%s", took, offlineBound, r.stderr)
	}
	if strings.Contains(r.stderr, "retrying") || len(networkLines(r.stderr)) > 0 {
		t.Errorf("offline np bundle tried the network:\n%s", r.stderr)
	}
	t.Logf("offline np bundle: %v", took)
}
