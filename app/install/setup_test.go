package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/np-portable/np/extract"
)

func testManifest() *extract.Manifest {
	return &extract.Manifest{NixVersion: "2.26.3", Nix: "/nix/store/h-nix", Busybox: "/nix/store/b-busybox", CABundle: "/nix/store/c-ca/ca.crt"}
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
