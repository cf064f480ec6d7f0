package extract

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/np-portable/np/internal/storepath"
)

// realPayload is the test payload with the manifest's NAR hashes computed
// from its content, so full checks can pass.
func realPayload(t *testing.T) *Payload {
	t.Helper()
	dir := t.TempDir()
	for _, e := range goodEntries() {
		p := filepath.Join(dir, e.name)
		switch {
		case e.dir:
			os.MkdirAll(p, 0o755)
		case e.link != "":
			os.Symlink(e.link, p)
		default:
			mode := os.FileMode(0o444)
			if e.exec {
				mode = 0o555
			}
			os.WriteFile(p, []byte(e.body), mode)
		}
	}
	m := testManifest()
	for i := range m.Paths {
		sum, size, err := storepath.NARHash(filepath.Join(dir, "store", filepath.Base(m.Paths[i].Path)))
		if err != nil {
			t.Fatal(err)
		}
		m.Paths[i].NarHash, m.Paths[i].NarSize = hex.EncodeToString(sum[:]), size
	}
	p, err := OpenPayload(makeBinary(t, m, goodEntries()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestDamageIsDetectedAndRepairedLeavingOtherPathsAlone(t *testing.T) {
	p := realPayload(t)
	tg := openTarget(t)
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(tg.Store(), "dddddddddddddddddddddddddddddddd-users-own")
	os.Mkdir(user, 0o755)
	os.WriteFile(filepath.Join(user, "data"), []byte("mine"), 0o444)

	nix := filepath.Join(tg.Store(), filepath.Base(pathA), "bin", "nix")
	ca := filepath.Join(tg.Store(), filepath.Base(pathB), "ca.crt")
	os.Chmod(filepath.Dir(nix), 0o755)
	os.Remove(nix)
	os.Chmod(ca, 0o644)
	os.WriteFile(ca, []byte("evil"), 0o644) // same size, new mtime and mode

	_, _, err := tg.Ensure(p, Options{})
	var damaged *DamagedError
	if !errors.As(err, &damaged) || !strings.Contains(err.Error(), "run `np repair`") ||
		!strings.Contains(err.Error(), "bin/nix is missing") || !strings.Contains(err.Error(), "ca.crt") {
		t.Fatalf("run after damage: %v, want a DamagedError naming both files and np repair", err)
	}
	if err := tg.FullCheck(p.Trailer.Fingerprint()); err == nil {
		t.Fatal("the full check finds no damage")
	}
	if _, _, err := tg.Ensure(p, Options{Repair: true}); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if err := tg.FullCheck(p.Trailer.Fingerprint()); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	if b, _ := os.ReadFile(ca); string(b) != "cert" {
		t.Errorf("repaired CA bundle holds %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(user, "data")); err != nil || string(b) != "mine" {
		t.Errorf("repair touched the user's own store path: %q %v", b, err)
	}
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		t.Fatalf("run after repair: %v", err)
	}
}

// Nix's tools are mostly symbolic links to nix: a deleted or retargeted
// link, or a directory replaced, is damage every run names, as a deleted
// file is; np repair restores them.
func TestDamagedLinksAndDirectoriesAreDetectedAndRepaired(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		damage     func(a string) error
	}{
		{"link deleted", "bin/nix-build is missing", func(a string) error { return os.Remove(filepath.Join(a, "bin", "nix-build")) }},
		{"link retargeted", `bin/nix-build points at "elsewhere"`, func(a string) error {
			l := filepath.Join(a, "bin", "nix-build")
			os.Remove(l)
			return os.Symlink("elsewhere", l)
		}},
		{"link made a file", "bin/nix-build is not a symbolic link", func(a string) error {
			l := filepath.Join(a, "bin", "nix-build")
			os.Remove(l)
			return os.WriteFile(l, nil, 0o555)
		}},
		{"directory made a link", "bin is not a directory", func(a string) error {
			RemoveTree(filepath.Join(a, "bin"))
			return os.Symlink("/", filepath.Join(a, "bin"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := realPayload(t)
			tg := openTarget(t)
			if _, _, err := tg.Ensure(p, Options{}); err != nil {
				t.Fatal(err)
			}
			a := filepath.Join(tg.Store(), filepath.Base(pathA))
			os.Chmod(a, 0o755)
			os.Chmod(filepath.Join(a, "bin"), 0o755)
			if err := tc.damage(a); err != nil {
				t.Fatal(err)
			}
			_, _, err := tg.Ensure(p, Options{})
			var damaged *DamagedError
			if !errors.As(err, &damaged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run after damage: %v, want a DamagedError saying %q", err, tc.want)
			}
			if err := tg.Check(p.Trailer.Fingerprint()); err == nil {
				t.Fatal("Check finds no damage")
			}
			if _, _, err := tg.Ensure(p, Options{Repair: true}); err != nil {
				t.Fatalf("repair: %v", err)
			}
			if err := tg.FullCheck(p.Trailer.Fingerprint()); err != nil {
				t.Fatalf("after repair: %v", err)
			}
			if got, err := os.Readlink(filepath.Join(a, "bin", "nix-build")); err != nil || got != "nix" {
				t.Errorf("repaired link: %q %v", got, err)
			}
		})
	}
}
