package nixenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/proc"
)

func TestUserSettingsFindsEveryPlaceNixReads(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "nix"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "nix", "nix.conf"), []byte("# mine\ninclude more.conf\n"), 0o644)
	os.WriteFile(filepath.Join(home, ".config", "nix", "more.conf"), []byte("extra-substituters = https://example.org # a cache\n"), 0o644)
	env := newEnvList([]string{"HOME=" + home, "NIX_CONFIG=" + storeLocal + "flake-registry = /etc/reg.json"})
	got := userSettings(env, nil)
	if !got["substituters"] || !got["flake-registry"] {
		t.Fatalf("settings from nix.conf (through include) and NIX_CONFIG: %v", got)
	}
	for _, argv := range [][]string{
		{"nix-build", "--option", "substituters", ""},
		{"nix", "build", "--extra-substituters", "file:///c"},
	} {
		if !userSettings(newEnvList([]string{"HOME=" + t.TempDir()}), argv)["substituters"] {
			t.Errorf("%q: substituters not seen as the user's", argv)
		}
	}
	if got := userSettings(newEnvList([]string{"HOME=" + t.TempDir(), "NIX_CONFIG=" + storeLocal}), []string{"nix-build", "x.nix"}); len(got) != 0 {
		t.Errorf("nothing set, but found %v", got)
	}
}

func TestProxyForFollowsCurlsRules(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, ""},
		{[]string{"https_proxy=http://proxy.example:3128"}, "proxy.example:3128"},
		{[]string{"HTTPS_PROXY=proxy.example"}, "proxy.example:1080"},
		{[]string{"all_proxy=https://p.example"}, "p.example:443"},
		{[]string{"https_proxy=http://p:1", "no_proxy=.nixos.org"}, ""},
		{[]string{"https_proxy=http://p:1", "NO_PROXY=*"}, ""},
	} {
		if got := proxyFor(newEnvList(c.env), "cache.nixos.org:443"); got != c.want {
			t.Errorf("%v: proxy %q, want %q", c.env, got, c.want)
		}
	}
}

func TestDropFlakeNixpkgsKeepsChannels(t *testing.T) {
	home := t.TempDir()
	env := newEnvList([]string{"NIX_PATH=" + home + "/.nix-defexpr/channels:" + flakeNixpkgs})
	dropFlakeNixpkgs(env)
	if got := env.get("NIX_PATH"); got != home+"/.nix-defexpr/channels" {
		t.Errorf("NIX_PATH %q", got)
	}
	if env.get("NIX_BUILD_SHELL") != "bash" {
		t.Errorf("without any <nixpkgs>, nix-shell should use bash directly")
	}
	os.MkdirAll(filepath.Join(home, ".nix-defexpr", "channels", "nixpkgs"), 0o755)
	env = newEnvList([]string{"NIX_PATH=" + home + "/.nix-defexpr/channels:" + flakeNixpkgs})
	dropFlakeNixpkgs(env)
	if env.get("NIX_BUILD_SHELL") != "" {
		t.Errorf("a nixpkgs channel provides bashInteractive; NIX_BUILD_SHELL must stay unset")
	}
}

// The offline lines go after np's own NIX_CONFIG lines, so an np inside np
// still recognises and replaces those, and before the user's, which win.
func TestOfflineLinesFollowNpsOwnConfig(t *testing.T) {
	c := &config.Config{DataDir: config.DataDir(t.TempDir())}
	cache := probeCache{}
	for _, d := range defaultServers {
		cache[d.host] = probeResult{Reachable: false, Checked: time.Now(), Error: "no DNS answer"}
	}
	data, _ := json.Marshal(cache)
	if err := os.WriteFile(c.DataDir.ProbeCache(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	env := newEnvList(Env([]string{"HOME=/h", "NIX_CONFIG=max-jobs = 3"}, c, testManifest(), false, Layout{}))
	applyOfflineDefaults(env, []string{"nix-build"}, c, true)
	want := storeLocal + noSandbox + "substituters =\nflake-registry =\nmax-jobs = 3"
	if got := env.get("NIX_CONFIG"); got != want {
		t.Fatalf("NIX_CONFIG = %q, want %q", got, want)
	}
	// An inner np whose runtime has a build sandbox drops the outer's "no"
	// and keeps the rest.
	inner := Env(env.list(), c, testManifest(), true, Layout{})
	if got, _ := proc.Getenv(inner, "NIX_CONFIG"); strings.Contains(got, noSandbox) {
		t.Fatalf("inner np kept the outer's sandbox line: %q", got)
	}
}
