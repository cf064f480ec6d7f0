package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaultsToHomeResolvedThroughSymlinks(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "home")
	os.Symlink(real, link)
	c, err := Load(envFunc(map[string]string{"HOME": link}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(real)
	if string(c.DataDir) != filepath.Join(want, ".nix-portable") || c.Runtime != Auto || c.LogLevel != logrus.WarnLevel {
		t.Fatalf("config %+v", c)
	}
}

func TestConfigRuntimeAliases(t *testing.T) {
	for in, want := range map[string]RuntimeName{"bwrap": NS, "proot": Ptrace, "NS": NS, "native": Native, "": Auto} {
		c, err := Load(envFunc(map[string]string{"HOME": t.TempDir(), "NP_RUNTIME": in}))
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
		_, err := Load(envFunc(env))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want an error containing %q", env, err, want)
		}
	}
}
