package nixenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/proc"
)

func testManifest() *extract.Manifest {
	return &extract.Manifest{NixVersion: "2.26.3", Nix: "/nix/store/h-nix", Busybox: "/nix/store/b-busybox", CABundle: "/nix/store/c-ca/ca.crt"}
}

func TestNixEnvOverridesHostSettings(t *testing.T) {
	c := &config.Config{DataDir: "/d/.nix-portable"}
	env := Env([]string{"HOME=/h", "PATH=/usr/bin", "LD_LIBRARY_PATH=/x", "LD_PRELOAD=/y.so", "NIX_REMOTE=daemon", "NIX_CONFIG=substituters = x", "KEEP=1"}, c, testManifest(), true, Layout{})
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
		{"an empty file is not a bundle", []string{"NIX_SSL_CERT_FILE=/dev/null"}, CABundle(m), CABundle(m)},
		{"SSL_CERT_FILE of the user's own kept", []string{"SSL_CERT_FILE=" + mine}, CABundle(m), mine},
	} {
		env := Env(append([]string{"HOME=/h"}, c.env...), &config.Config{DataDir: "/d"}, m, true, Layout{})
		gotNix, _ := proc.Getenv(env, "NIX_SSL_CERT_FILE")
		gotSSL, _ := proc.Getenv(env, "SSL_CERT_FILE")
		if gotNix != c.wantNix || gotSSL != c.wantSSL {
			t.Errorf("%s: NIX_SSL_CERT_FILE=%q SSL_CERT_FILE=%q, want %q %q", c.name, gotNix, gotSSL, c.wantNix, c.wantSSL)
		}
	}
}

func TestNixEnvInsideNpAddsNothingTwice(t *testing.T) {
	c, m := &config.Config{DataDir: "/d"}, testManifest()
	once := Env([]string{"HOME=/h", "NIX_CONFIG=substituters = x"}, c, m, false, Layout{})
	twice := Env(once, c, m, false, Layout{})
	if got, _ := proc.Getenv(twice, "NIX_CONFIG"); got != "store = local\n"+noSandbox+"substituters = x" {
		t.Fatalf("NIX_CONFIG after two np layers = %q", got)
	}
	// An inner np whose runtime has a build sandbox drops the outer's "no".
	inner := Env(once, c, m, true, Layout{})
	if got, _ := proc.Getenv(inner, "NIX_CONFIG"); got != "store = local\nsubstituters = x" {
		t.Fatalf("NIX_CONFIG of an inner np with a sandbox = %q", got)
	}
}

func TestNixEnvWithoutBuildSandboxSaysSo(t *testing.T) {
	env := Env([]string{"HOME=/h", "NIX_CONFIG=sandbox = relaxed"}, &config.Config{DataDir: "/d"}, testManifest(), false, Layout{})
	// The user's own setting comes after np's, so it still wins.
	if got, _ := proc.Getenv(env, "NIX_CONFIG"); got != "store = local\n"+noSandbox+"sandbox = relaxed" {
		t.Fatalf("NIX_CONFIG = %q", got)
	}
}

func TestNixEnvKeepsUserNixPath(t *testing.T) {
	env := Env([]string{"HOME=/h", "NIX_PATH=nixpkgs=/mine"}, &config.Config{DataDir: "/d"}, testManifest(), true, Layout{})
	if v, _ := proc.Getenv(env, "NIX_PATH"); v != "nixpkgs=/mine" {
		t.Fatalf("NIX_PATH = %q", v)
	}
}

func TestNixEnvGivesTheDataDirItsOwnProfile(t *testing.T) {
	d := t.TempDir()
	c := &config.Config{DataDir: config.DataDir(d)}
	l := Layout{stateHome: c.DataDir.State(), nixDir: filepath.Join(d, "nix")}
	env := Env([]string{"HOME=/h", "PATH=/usr/bin", "NIX_CONFIG=use-xdg-base-directories = false"}, c, testManifest(), true, l)
	got := func(k string) string { v, _ := proc.Getenv(env, k); return v }
	// Programs get the record; each Nix run the settings (nixtools.Adjust).
	if got("NIX_STATE_HOME") != "" || got(nixtools.EnvHome) != "/h" || got(nixtools.EnvState) != c.DataDir.State() {
		t.Errorf("NIX_STATE_HOME = %q, record %q %q; want none, /h and the data dir's %q", got("NIX_STATE_HOME"), got(nixtools.EnvHome), got(nixtools.EnvState), c.DataDir.State())
	}
	if !strings.HasPrefix(got("PATH"), c.DataDir.Tools(testManifest().Nix)+":") {
		t.Errorf("PATH = %q, want np's wrappers of the Nix tools first", got("PATH"))
	}
	run := nixtools.Adjust(env, []string{"-i"})
	if v, _ := proc.Getenv(run, "NIX_STATE_HOME"); v != c.DataDir.State() {
		t.Errorf("a Nix run's NIX_STATE_HOME = %q, want the data dir's %q", v, c.DataDir.State())
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
	env = Env([]string{"HOME=/h"}, c, testManifest(), true, l)
	if want := filepath.Join(d, "state", "defexpr", "channels") + ":nixpkgs=flake:nixpkgs"; got("NIX_PATH") != want {
		t.Errorf("NIX_PATH = %q, want %q", got("NIX_PATH"), want)
	}
	// A NIX_STATE_HOME of the user's is kept, with np's line once.
	inner := Env(append(env, "NIX_STATE_HOME=/outer"), c, testManifest(), true, l)
	if v, _ := proc.Getenv(inner, "NIX_CONFIG"); strings.Count(v, ownProfileLine) != 1 {
		t.Errorf("inner NIX_CONFIG = %q", v)
	}
	if v, _ := proc.Getenv(inner, "NIX_STATE_HOME"); v != "/outer" {
		t.Errorf("inner NIX_STATE_HOME = %q", v)
	}
}
