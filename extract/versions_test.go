package extract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pathC = "/nix/store/cccccccccccccccccccccccccccccccc-extra-1"

// secondPayload is another np version's payload: the same Nix and busybox
// plus a path of its own.
func secondPayload(t *testing.T) *Payload {
	t.Helper()
	m := testManifest()
	m.Paths = append(m.Paths, PathEntry{Path: pathC, NarHash: strings.Repeat("2", 64), NarSize: 3})
	entries := append(goodEntries(), entry{name: "store/" + filepath.Base(pathC), dir: true},
		entry{name: "store/" + filepath.Base(pathC) + "/f", body: "c"})
	p, err := OpenPayload(makeBinary(t, m, entries))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestTwoVersionsSharingADataDirDoNotReinstallOnSwitch(t *testing.T) {
	a, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer a.Close()
	b := secondPayload(t)
	tg := openTarget(t)
	installs := 0
	opts := Options{Finish: func(*Manifest) error { installs++; return nil }}
	for _, p := range []*Payload{a, b, a, b} {
		if _, _, err := tg.Ensure(p, opts); err != nil {
			t.Fatal(err)
		}
	}
	if installs != 2 {
		t.Fatalf("switching between two versions installed %d times, want 2 (once each)", installs)
	}
	for _, p := range []*Payload{a, b} {
		root := filepath.Join(tg.GCRootDir(), p.Trailer.Fingerprint(), filepath.Base(pathA))
		if target, _ := os.Readlink(root); target != pathA {
			t.Errorf("payload %s lost its GC root for %s (%q)", p.Trailer.Short(), pathA, target)
		}
	}
	if target, _ := os.Readlink(filepath.Join(tg.GCRootDir(), b.Trailer.Fingerprint(), filepath.Base(pathC))); target != pathC {
		t.Errorf("installing version A removed version B's root for its own path")
	}
}

func TestForgetOthersKeepsOnlyTheRunningVersion(t *testing.T) {
	a, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer a.Close()
	b := secondPayload(t)
	tg := openTarget(t)
	for _, p := range []*Payload{a, b} {
		if _, _, err := tg.Ensure(p, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	// A flat root and record as an np before per-version roots left them.
	os.Symlink(pathC, filepath.Join(tg.GCRootDir(), filepath.Base(pathC)))
	forgot, err := tg.ForgetOthers(a.Trailer.Fingerprint())
	if err != nil || len(forgot) != 1 || forgot[0] != b.Trailer.Fingerprint() {
		t.Fatalf("ForgetOthers: %v %v, want %s forgotten", forgot, err, b.Trailer.Short())
	}
	entries, _ := os.ReadDir(tg.GCRootDir())
	if len(entries) != 1 || entries[0].Name() != a.Trailer.Fingerprint() {
		t.Errorf("gcroots/np holds %v, want only the running version's roots", entries)
	}
	if tg.Installed(b.Trailer.Fingerprint()) != nil || tg.Installed(a.Trailer.Fingerprint()) == nil {
		t.Errorf("install records: forgotten version still recorded, or the running one lost")
	}
	vs, _ := tg.Versions()
	if len(vs) != 1 || vs[0].Fingerprint != a.Trailer.Fingerprint() || vs[0].NixVersion != "9.9" {
		t.Errorf("Versions after forgetting: %+v", vs)
	}
}

func TestForgetOthersKeepsTheRunningVersionsLegacyInstall(t *testing.T) {
	a, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer a.Close()
	tg := openTarget(t)
	if _, _, err := tg.Ensure(a, Options{}); err != nil {
		t.Fatal(err)
	}
	// Turn it into what an older np left: one record, flat roots.
	fp := a.Trailer.Fingerprint()
	os.Rename(tg.StateFile(fp), tg.legacyStateFile())
	RemoveTree(tg.gcRootDirOf(fp))
	os.Symlink(pathA, filepath.Join(tg.GCRootDir(), filepath.Base(pathA)))
	if _, err := tg.ForgetOthers(fp); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(filepath.Join(tg.gcRootDirOf(fp), filepath.Base(pathA))); target != pathA {
		t.Fatalf("the running version's Nix lost its GC root (%q)", target)
	}
	if tg.Installed(fp) == nil {
		t.Fatal("the running version's install record was removed")
	}
}
