package nixtools

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// inside is the environment np gives a program: the record and np's
// settings, without the profile's, which each Nix run gets.
func inside(home, state string, extra ...string) []string {
	return append([]string{
		"HOME=" + home,
		EnvHome + "=" + home,
		EnvState + "=" + state,
		EnvConf + "=/data/conf",
		"NIX_CONF_DIR=/data/conf",
		"NIX_STORE_DIR=/nix/store",
		"NIX_STATE_DIR=/nix/var/nix",
		"NIX_CONFIG=" + StoreLine + "sandbox = false # np: no build sandbox in this runtime\n" + "substituters =\n",
		"NIX_PATH=" + state + "/defexpr/channels:nixpkgs=flake:nixpkgs",
	}, extra...)
}

func lookup(env []string) func(string) string {
	return func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// set replaces (or adds) k in env, as a program inside np would.
func set(env []string, k, v string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
	return append(out, k+"="+v)
}

func TestTheDataDirsProfileAppliesToNpsHome(t *testing.T) {
	env := inside("/home/u", "/data/state")
	got := lookup(Adjust(env, []string{"-iA", "hello"}))
	if got("NIX_STATE_HOME") != "/data/state" || !strings.Contains(got("NIX_CONFIG"), "# np: no build sandbox in this runtime\n"+ProfileLine+"substituters =\n") {
		t.Errorf("np's own HOME lost the data dir's profile: NIX_STATE_HOME=%q NIX_CONFIG=%q", got("NIX_STATE_HOME"), got("NIX_CONFIG"))
	}
	if got("NIX_PATH") != "/data/state/defexpr/channels:nixpkgs=flake:nixpkgs" {
		t.Errorf("NIX_PATH changed: %q", got("NIX_PATH"))
	}
}

func TestAnotherHomeGetsNixsOrdinaryProfile(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".nix-defexpr", "channels"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A program that a Nix run started (nix-shell's shell) has the
	// settings too.
	env := set(Adjust(inside("/home/u", "/data/state"), nil), "HOME", home)
	got := lookup(Adjust(env, nil))
	if v := got("NIX_STATE_HOME"); v != "" {
		t.Errorf("NIX_STATE_HOME=%q reaches a Nix whose HOME is %s", v, home)
	}
	cfg := got("NIX_CONFIG")
	if strings.Contains(cfg, "use-xdg-base-directories") {
		t.Errorf("np's use-xdg-base-directories reaches a Nix whose HOME is its own: %q", cfg)
	}
	if !strings.HasPrefix(cfg, StoreLine) || !strings.Contains(cfg, "substituters =\n") {
		t.Errorf("np's other lines lost: %q", cfg)
	}
	if want := filepath.Join(home, ".nix-defexpr", "channels") + ":nixpkgs=flake:nixpkgs"; got("NIX_PATH") != want {
		t.Errorf("NIX_PATH %q, want %q (HOME's channels instead of the data dir's)", got("NIX_PATH"), want)
	}
	// Its child, back at np's HOME, has the data dir's profile again.
	back := lookup(Adjust(set(Adjust(env, nil), "HOME", "/home/u"), nil))
	if back("NIX_STATE_HOME") != "/data/state" || !strings.Contains(back("NIX_CONFIG"), StoreLine+"sandbox = false # np: no build sandbox in this runtime\n"+ProfileLine) {
		t.Errorf("back at np's HOME: NIX_STATE_HOME=%q NIX_CONFIG=%q", back("NIX_STATE_HOME"), back("NIX_CONFIG"))
	}
}

func TestAStoreOfItsOwnGetsNixsOrdinaryProfile(t *testing.T) {
	base := inside("/home/u", "/data/state")
	for _, c := range []struct {
		name string
		env  []string
		args []string
	}{
		{"NIX_STORE_DIR", set(base, "NIX_STORE_DIR", "/tmp/t/store"), nil},
		{"NIX_STATE_DIR", set(base, "NIX_STATE_DIR", "/tmp/t/var/nix"), nil},
		{"NIX_REMOTE", set(base, "NIX_REMOTE", "local?root=/tmp/t"), nil},
		{"--store", base, []string{"-i", "--store", "/tmp/t", "hello"}},
		{"--option store", base, []string{"--option", "store", "/tmp/t", "profile", "list"}},
		{"NIX_CONFIG", set(base, "NIX_CONFIG", lookup(base)("NIX_CONFIG")+"store = /tmp/t\n"), nil},
	} {
		r, _ := FromEnv(lookup(c.env))
		if r.OrdinaryReason(lookup(c.env), c.args) == "" {
			t.Errorf("%s: the data dir's profile applies to a store of the program's own", c.name)
		}
		if v := lookup(Adjust(c.env, c.args))("NIX_STATE_HOME"); v != "" {
			t.Errorf("%s: NIX_STATE_HOME=%q reaches it", c.name, v)
		}
	}
	for _, args := range [][]string{{"--store", "local"}, {"--", "--store", "/tmp/t"}, {"-i", "hello"}} {
		r, _ := FromEnv(lookup(base))
		if why := r.OrdinaryReason(lookup(base), args); why != "" {
			t.Errorf("%q: ordinary behaviour (%s) where np's store is used", args, why)
		}
	}
}

func TestNixRemoteOfTheProgramBeatsNpsStoreLine(t *testing.T) {
	env := set(inside("/home/u", "/data/state"), "NIX_REMOTE", "local?store=/foo&real=/tmp/real")
	cfg := lookup(Adjust(env, nil))("NIX_CONFIG")
	if strings.Contains(cfg, StoreLine) {
		t.Errorf("np's store line overrides the program's NIX_REMOTE: %q", cfg)
	}
}

func TestOutsideNpNothingChanges(t *testing.T) {
	env := []string{"HOME=/home/u", "NIX_CONFIG=x = y\n", "PATH=/usr/bin"}
	if got := Adjust(env, []string{"--store", "/x"}); !slices.Equal(got, env) {
		t.Errorf("Adjust outside np changed the environment: %q", got)
	}
}

func TestNpsOfflineLinesOnlyWithNpsNixConf(t *testing.T) {
	env := set(inside("/home/u", "/data/state"), EnvOffline, "substituters =\nflake-registry =\n")
	env = set(env, "NIX_CONFIG", StoreLine+"sandbox = false # np: no build sandbox in this runtime\nsubstituters =\n")
	run := Adjust(env, nil)
	want := StoreLine + "sandbox = false # np: no build sandbox in this runtime\n" + ProfileLine +
		"substituters =" + offlineMark + "\nflake-registry =" + offlineMark + "\n" + "substituters =\n"
	if got := lookup(run)("NIX_CONFIG"); got != want {
		t.Errorf("with np's nix.conf: NIX_CONFIG %q, want %q", got, want)
	}
	// A child of that run, with a nix.conf of its own: np's offline lines
	// go, the user's own line (the same text) stays.
	got := lookup(Adjust(set(run, "NIX_CONF_DIR", "/tmp/t/etc"), nil))("NIX_CONFIG")
	if want := StoreLine + "sandbox = false # np: no build sandbox in this runtime\n" + ProfileLine + "substituters =\n"; got != want {
		t.Errorf("with a NIX_CONF_DIR of its own: NIX_CONFIG %q, want %q", got, want)
	}
}

func TestWrapperTool(t *testing.T) {
	store, data, other := t.TempDir(), t.TempDir(), t.TempDir()
	nix := filepath.Join(store, "h-nix-2.26.3")
	if err := os.MkdirAll(filepath.Join(nix, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nix, "bin", "nix-env"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	tools := filepath.Join(data, ToolsDirName, filepath.Base(nix))
	for _, d := range []string{tools, other} {
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, "nix-env"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := filepath.Join(nix, "bin", "nix-env")
	cases := []struct {
		argv0, path string
		want        bool
	}{
		{"nix-env", tools + ":" + other, true},
		{"nix-env", other + ":" + tools, false}, // np link's dir first: np proper
		{filepath.Join(tools, "nix-env"), other, true},
		{filepath.Join(other, "nix-env"), tools, false},
	}
	for _, c := range cases {
		got, ok := wrapperTool(c.argv0, lookup([]string{"PATH=" + c.path}), store)
		if ok != c.want || ok && got != want {
			t.Errorf("WrapperTool(%q) with PATH=%s: %q %v, want %v", c.argv0, c.path, got, ok, c.want)
		}
	}
}

func TestNoWrapperWithoutItsNix(t *testing.T) {
	tools := filepath.Join(t.TempDir(), ToolsDirName, "h-nix-2.26.3")
	os.MkdirAll(tools, 0o755)
	os.WriteFile(filepath.Join(tools, "nix-env"), nil, 0o755)
	if _, ok := wrapperTool("nix-env", lookup([]string{"PATH=" + tools}), t.TempDir()); ok {
		t.Errorf("a wrapper whose Nix is not in the store (outside np) runs")
	}
}
