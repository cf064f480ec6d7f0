package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func dataDirConfig(t *testing.T) *Config {
	t.Helper()
	loc := t.TempDir()
	return &Config{Location: loc, DataDir: DataDir(filepath.Join(loc, ".nix-portable"))}
}

func TestNewDataDirIsPrivate(t *testing.T) {
	c := dataDirConfig(t)
	if err := c.MakeDataDir(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(string(c.DataDir))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v (%v), want 0700", st.Mode(), err)
	}
	if err := c.CheckDataDir(); err != nil {
		t.Fatalf("np refuses its own new data dir: %v", err)
	}
}

func TestDataDirOthersCanWriteIsRefused(t *testing.T) {
	for _, tc := range []struct{ rel, want string }{
		{"", "writable by its group"},
		{"nix", "writable by its group"},
		{"conf", "writable by everyone"},
	} {
		c := dataDirConfig(t)
		if err := c.MakeDataDir(); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o770)
		if tc.want == "writable by everyone" {
			mode = 0o707
		}
		os.Chmod(filepath.Join(string(c.DataDir), tc.rel), mode)
		for name, err := range map[string]error{"check": c.CheckDataDir(), "make": c.MakeDataDir()} {
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "NP_LOCATION") {
				t.Errorf("%s with %q mode %v: %v, want a refusal saying %q and naming the fix", name, tc.rel, mode, err, tc.want)
			}
		}
	}
}

func TestSymlinkedDataDirIsRefused(t *testing.T) {
	for _, rel := range []string{"", "nix", "conf"} {
		c := dataDirConfig(t)
		elsewhere := t.TempDir()
		if rel != "" {
			os.Mkdir(string(c.DataDir), 0o700)
		}
		if err := os.Symlink(elsewhere, filepath.Join(string(c.DataDir), rel)); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{"check": c.CheckDataDir(), "make": c.MakeDataDir()} {
			if err == nil || !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("%s with %q a symlink: %v, want a refusal", name, rel, err)
			}
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Errorf("np created %v in the symlink's target", entries)
		}
	}
}
