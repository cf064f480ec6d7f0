package extract

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stampedTarget installs the test payload and waits out the clock tick of
// the install, so that the next Ensure leaves a stamp that proves
// something (see recordStamp).
func stampedTarget(t *testing.T) (Target, *Payload) {
	t.Helper()
	p := realPayload(t)
	tg := openTarget(t)
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		t.Fatal(err)
	}
	fp := p.Trailer.Fingerprint()
	for i := 0; tg.stamped(fp) == nil; i++ {
		if i == 100 {
			t.Fatal("no usable stamp after a second of Ensure calls")
		}
		time.Sleep(10 * time.Millisecond)
		if _, _, err := tg.Ensure(p, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return tg, p
}

// Each kind of damage the README promises to name changes what the stamp
// records, so the per-command check alone sees it, without the walk.
func TestStampSeesEveryKindOfDamage(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		damage     func(a, b string) error
	}{
		{"file deleted", "bin/nix is missing", func(a, b string) error { return os.Remove(filepath.Join(a, "bin", "nix")) }},
		{"link deleted", "bin/nix-build is missing", func(a, b string) error { return os.Remove(filepath.Join(a, "bin", "nix-build")) }},
		{"size changed", "ca.crt has 12 bytes, not 4", func(a, b string) error {
			// Root needs no write permission: nothing but the file changes.
			f, err := os.OpenFile(filepath.Join(b, "ca.crt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			f.WriteString("appended")
			return f.Close()
		}},
		{"directory replaced", "bin is not a directory", func(a, b string) error {
			RemoveTree(filepath.Join(a, "bin"))
			return os.Symlink("/", filepath.Join(a, "bin"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, p := stampedTarget(t)
			fp := p.Trailer.Fingerprint()
			a := filepath.Join(tg.Store(), filepath.Base(pathA))
			b := filepath.Join(tg.Store(), filepath.Base(pathB))
			for _, d := range []string{a, filepath.Join(a, "bin"), b} {
				os.Chmod(d, 0o755)
			}
			os.Chmod(filepath.Join(b, "ca.crt"), 0o644)
			if err := tc.damage(a, b); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(b, "ca.crt"), 0o444)
			if tg.stamped(fp) != nil {
				t.Fatal("the stamp check finds the damaged store as installed")
			}
			_, _, err := tg.Ensure(p, Options{})
			var damaged *DamagedError
			if !errors.As(err, &damaged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run after damage: %v, want a DamagedError saying %q", err, tc.want)
			}
		})
	}
}

// A change that is no damage (a directory made writable and back) costs
// one walk, which stamps again; the install record rewritten voids the
// stamp.
func TestStampIsRenewedAfterAHarmlessChange(t *testing.T) {
	tg, p := stampedTarget(t)
	fp := p.Trailer.Fingerprint()
	if m := tg.Installed(fp); m == nil || m.NixVersion != "9.9" {
		t.Fatalf("Installed through the stamp: %+v", m)
	}
	a := filepath.Join(tg.Store(), filepath.Base(pathA))
	os.Chmod(a, 0o755)
	os.Chmod(a, 0o555)
	if tg.stamped(fp) != nil {
		t.Fatal("a changed directory leaves the stamp valid")
	}
	time.Sleep(20 * time.Millisecond)
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		t.Fatal(err)
	}
	if tg.stamped(fp) == nil {
		t.Fatal("the walk that found the store intact did not stamp again")
	}
	data, _ := os.ReadFile(tg.StateFile(fp))
	if err := WriteFileAtomic(tg.StateFile(fp), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if tg.stamped(fp) != nil {
		t.Fatal("a stamp outlives the install record it was taken with")
	}
}

// The stamp's manifest line gives back the manifest it was made from, in
// its plain form and in JSON (a bundle's).
func TestManifestLineRoundTrips(t *testing.T) {
	m := testManifest()
	b := testManifest()
	b.Bundle = &BundleInfo{Outputs: []string{pathA}, Program: pathA + "/bin/nix", Programs: []string{"nix"}}
	for _, want := range []*Manifest{m, b} {
		l, err := manifestLine(want)
		if err != nil {
			t.Fatal(err)
		}
		got := parseManifestLine(l)
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if string(wj) != string(gj) {
			t.Errorf("manifest line %q gives back\n%s\nnot\n%s", l, gj, wj)
		}
	}
}
