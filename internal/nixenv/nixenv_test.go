package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/proc"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaultsToHomeResolvedThroughSymlinks(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "home")
	os.Symlink(real, link)
	c, err := loadConfig(envFunc(map[string]string{"HOME": link}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(real)
	if c.DataDir != filepath.Join(want, ".nix-portable") || c.Runtime != runtimeAuto || c.LogLevel != logrus.WarnLevel {
		t.Fatalf("config %+v", c)
	}
}

func TestConfigRuntimeAliases(t *testing.T) {
	for in, want := range map[string]runtimeName{"bwrap": runtimeNS, "proot": runtimePtrace, "NS": runtimeNS, "native": runtimeNative, "": runtimeAuto} {
		c, err := loadConfig(envFunc(map[string]string{"HOME": t.TempDir(), "NP_RUNTIME": in}))
		if err != nil || c.Runtime != want {
			t.Errorf("NP_RUNTIME=%q: %v %v, want %v", in, c, err, want)
		}
	}
}

func TestConfigRejectsBadValuesNamingValidOnes(t *testing.T) {
	cases := map[string]map[string]string{
		"auto, ns, ptrace, native": {"NP_RUNTIME": "bogus"},
		"0, 1 (debug), 2 (trace)":  {"NP_DEBUG": "loud"},
		"not an executable file":   {"NP_GIT": "/nonexistent/git"},
	}
	for want, env := range cases {
		env["HOME"] = t.TempDir()
		_, err := loadConfig(envFunc(env))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want an error containing %q", env, err, want)
		}
	}
}

func testManifest() *extract.Manifest {
	return &extract.Manifest{NixVersion: "2.26.3", Nix: "/nix/store/h-nix", Busybox: "/nix/store/b-busybox", CABundle: "/nix/store/c-ca/ca.crt"}
}

func TestNixEnvOverridesHostSettings(t *testing.T) {
	c := &config{DataDir: "/d/.nix-portable"}
	env := nixEnv([]string{"HOME=/h", "PATH=/usr/bin", "LD_LIBRARY_PATH=/x", "LD_PRELOAD=/y.so", "NIX_REMOTE=daemon", "NIX_CONFIG=substituters = x", "KEEP=1"}, c, testManifest(), true, profileLayout{})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for _, gone := range []string{"LD_LIBRARY_PATH", "LD_PRELOAD", "NIX_REMOTE"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s reached the sandbox", gone)
		}
	}
	want := map[string]string{
		"KEEP": "1", "NIX_CONF_DIR": "/d/.nix-portable/conf", "NIX_BIN_DIR": "/nix/store/h-nix/bin",
		"NIX_STATE_DIR": "/nix/var/nix", "PATH": "/nix/store/h-nix/bin:/d/.nix-portable/bin:/h/.nix-profile/bin:/usr/bin:/nix/store/b-busybox/bin",
		"NIX_CONFIG": "store = local\nsubstituters = x", "NIX_PATH": "nixpkgs=flake:nixpkgs", // no channels in /h yet
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got["NIX_SSL_CERT_FILE"] == "" || got["SSL_CERT_FILE"] != got["NIX_SSL_CERT_FILE"] {
		t.Errorf("CA bundle variables: %q %q", got["NIX_SSL_CERT_FILE"], got["SSL_CERT_FILE"])
	}
}

func TestNixEnvCABundles(t *testing.T) {
	mine := filepath.Join(t.TempDir(), "mine.pem")
	os.WriteFile(mine, []byte("cert"), 0o644)
	m := testManifest()
	for _, c := range []struct {
		name             string
		env              []string
		wantNix, wantSSL string
	}{
		{"user's usable bundle kept, SSL_CERT_FILE follows", []string{"NIX_SSL_CERT_FILE=" + mine}, mine, mine},
		{"an empty file is not a bundle", []string{"NIX_SSL_CERT_FILE=/dev/null"}, caBundle(m), caBundle(m)},
		{"SSL_CERT_FILE of the user's own kept", []string{"SSL_CERT_FILE=" + mine}, caBundle(m), mine},
	} {
		env := nixEnv(append([]string{"HOME=/h"}, c.env...), &config{DataDir: "/d"}, m, true, profileLayout{})
		gotNix, _ := proc.Getenv(env, "NIX_SSL_CERT_FILE")
		gotSSL, _ := proc.Getenv(env, "SSL_CERT_FILE")
		if gotNix != c.wantNix || gotSSL != c.wantSSL {
			t.Errorf("%s: NIX_SSL_CERT_FILE=%q SSL_CERT_FILE=%q, want %q %q", c.name, gotNix, gotSSL, c.wantNix, c.wantSSL)
		}
	}
}

func TestNixEnvInsideNpAddsNothingTwice(t *testing.T) {
	c, m := &config{DataDir: "/d"}, testManifest()
	once := nixEnv([]string{"HOME=/h", "NIX_CONFIG=substituters = x"}, c, m, false, profileLayout{})
	twice := nixEnv(once, c, m, false, profileLayout{})
	if got, _ := proc.Getenv(twice, "NIX_CONFIG"); got != "store = local\n"+noSandbox+"substituters = x" {
		t.Fatalf("NIX_CONFIG after two np layers = %q", got)
	}
	// An inner np whose runtime has a build sandbox drops the outer's "no".
	inner := nixEnv(once, c, m, true, profileLayout{})
	if got, _ := proc.Getenv(inner, "NIX_CONFIG"); got != "store = local\nsubstituters = x" {
		t.Fatalf("NIX_CONFIG of an inner np with a sandbox = %q", got)
	}
}

func TestNixEnvWithoutBuildSandboxSaysSo(t *testing.T) {
	env := nixEnv([]string{"HOME=/h", "NIX_CONFIG=sandbox = relaxed"}, &config{DataDir: "/d"}, testManifest(), false, profileLayout{})
	// The user's own setting comes after np's, so it still wins.
	if got, _ := proc.Getenv(env, "NIX_CONFIG"); got != "store = local\n"+noSandbox+"sandbox = relaxed" {
		t.Fatalf("NIX_CONFIG = %q", got)
	}
}

func TestNixEnvKeepsUserNixPath(t *testing.T) {
	env := nixEnv([]string{"HOME=/h", "NIX_PATH=nixpkgs=/mine"}, &config{DataDir: "/d"}, testManifest(), true, profileLayout{})
	if v, _ := proc.Getenv(env, "NIX_PATH"); v != "nixpkgs=/mine" {
		t.Fatalf("NIX_PATH = %q", v)
	}
}

func TestNixConf(t *testing.T) {
	conf := nixConf(testManifest(), true, "np-install:AAAA")
	if strings.Contains(conf, "\nsandbox =") {
		t.Errorf("nix.conf decides the build sandbox, which depends on the runtime:\n%s", conf)
	}
	for _, want := range []string{"extra-trusted-public-keys = np-install:AAAA\n", "build-users-group =\n", "sandbox-paths = /bin/sh=/nix/store/b-busybox/bin/busybox\n", "use-sqlite-wal = false\n", "experimental-features = nix-command flakes\n", "require-drop-supplementary-groups = false\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nix.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(nixConf(testManifest(), false), "use-sqlite-wal") {
		t.Error("use-sqlite-wal set off NFS")
	}
}

func TestOwnKeysOfEarlierInstallsStayTrusted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nix.conf")
	conf := nixConf(testManifest(), false, "np-install:AAAA", "np-install:BBBB")
	if err := os.WriteFile(path, []byte(conf+"extra-trusted-public-keys = other:CCCC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := ownKeys(path)
	if strings.Join(got, " ") != "np-install:AAAA np-install:BBBB" {
		t.Fatalf("ownKeys = %q, want np's two keys only", got)
	}
	if ownKeys(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Fatal("keys from a missing nix.conf")
	}
}

func TestNixEnvGivesTheDataDirItsOwnProfile(t *testing.T) {
	d := t.TempDir()
	c := &config{DataDir: d}
	l := profileLayout{stateHome: c.nixStateDir(), nixDir: filepath.Join(d, "nix")}
	env := nixEnv([]string{"HOME=/h", "PATH=/usr/bin", "NIX_CONFIG=use-xdg-base-directories = false"}, c, testManifest(), true, l)
	got := func(k string) string { v, _ := proc.Getenv(env, k); return v }
	// Programs get the record; each Nix run the settings (nixtools.Adjust).
	if got("NIX_STATE_HOME") != "" || got(nixtools.EnvHome) != "/h" || got(nixtools.EnvState) != c.nixStateDir() {
		t.Errorf("NIX_STATE_HOME = %q, record %q %q; want none, /h and the data dir's %q", got("NIX_STATE_HOME"), got(nixtools.EnvHome), got(nixtools.EnvState), c.nixStateDir())
	}
	if !strings.HasPrefix(got("PATH"), c.toolsDir(testManifest())+":") {
		t.Errorf("PATH = %q, want np's wrappers of the Nix tools first", got("PATH"))
	}
	run := nixtools.Adjust(env, []string{"-i"})
	if v, _ := proc.Getenv(run, "NIX_STATE_HOME"); v != c.nixStateDir() {
		t.Errorf("a Nix run's NIX_STATE_HOME = %q, want the data dir's %q", v, c.nixStateDir())
	}
	// The user's own line comes after np's, so it still wins.
	if v, _ := proc.Getenv(run, "NIX_CONFIG"); v != storeLocal+ownProfileLine+"use-xdg-base-directories = false" {
		t.Errorf("a Nix run's NIX_CONFIG = %q, want %q", v, storeLocal+ownProfileLine+"use-xdg-base-directories = false")
	}
	if !strings.Contains(got("PATH"), ":"+filepath.Join(d, "state", "profile", "bin")+":") || strings.Contains(got("PATH"), ".nix-profile") {
		t.Errorf("PATH = %q, want the data dir's profile and not ~/.nix-profile", got("PATH"))
	}
	// Once the channels exist (a link into the store, as nix-channel
	// makes it), they come first on NIX_PATH.
	os.MkdirAll(filepath.Join(d, "state", "defexpr"), 0o755)
	os.MkdirAll(filepath.Join(d, "nix", "store", "x-channels"), 0o755)
	os.Symlink("/nix/store/x-channels", filepath.Join(d, "state", "defexpr", "channels"))
	env = nixEnv([]string{"HOME=/h"}, c, testManifest(), true, l)
	if want := filepath.Join(d, "state", "defexpr", "channels") + ":nixpkgs=flake:nixpkgs"; got("NIX_PATH") != want {
		t.Errorf("NIX_PATH = %q, want %q", got("NIX_PATH"), want)
	}
	// A NIX_STATE_HOME of the user's is kept, with np's line once.
	inner := nixEnv(append(env, "NIX_STATE_HOME=/outer"), c, testManifest(), true, l)
	if v, _ := proc.Getenv(inner, "NIX_CONFIG"); strings.Count(v, ownProfileLine) != 1 {
		t.Errorf("inner NIX_CONFIG = %q", v)
	}
	if v, _ := proc.Getenv(inner, "NIX_STATE_HOME"); v != "/outer" {
		t.Errorf("inner NIX_STATE_HOME = %q", v)
	}
}
