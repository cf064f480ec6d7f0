package extract

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	pathG = "/nix/store/gggggggggggggggggggggggggggggggg-greet-1"
	pathS = "/nix/store/ssssssssssssssssssssssssssssssss-shout-1"
)

// bundleManifest is a greet program whose closure is itself and shout.
func bundleManifest() *Manifest {
	return &Manifest{Version: 1,
		Paths: []PathEntry{
			{Path: pathG, NarHash: strings.Repeat("3", 64), NarSize: 3, References: []string{pathS}},
			{Path: pathS, NarHash: strings.Repeat("4", 64), NarSize: 4, References: []string{}},
		},
		Bundle: &BundleInfo{Outputs: []string{pathG}, Program: pathG + "/bin/greet",
			Programs: []string{pathG + "/bin/greet", pathS + "/bin/shout"}},
	}
}

func bundleEntries() []entry {
	g, s := "store/"+filepath.Base(pathG), "store/"+filepath.Base(pathS)
	return []entry{
		{name: "store", dir: true},
		{name: g, dir: true}, {name: g + "/bin", dir: true},
		{name: g + "/bin/greet", body: "#!" + pathS + "/bin/shout\n", exec: true},
		{name: s, dir: true}, {name: s + "/bin", dir: true},
		{name: s + "/bin/shout", body: "shout", exec: true},
	}
}

// makeBundle is makeBinary with a bundle's trailer.
func makeBundle(t *testing.T, m *Manifest, entries []entry) string {
	t.Helper()
	bin := makeBinary(t, m, entries)
	f, err := os.OpenFile(bin, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrailer(f)
	if err != nil {
		t.Fatal(err)
	}
	tr.Bundle = true
	if _, err := f.WriteAt(tr.Marshal(), tr.Offset+tr.Length); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestBundleAndNpPayloadsAreToldApart(t *testing.T) {
	bundle := makeBundle(t, bundleManifest(), bundleEntries())
	np := makeBinary(t, testManifest(), goodEntries())
	if _, err := OpenPayload(bundle); !errors.Is(err, ErrNoPayload) {
		t.Fatalf("OpenPayload of a bundle: %v, want ErrNoPayload", err)
	}
	if _, err := OpenBundle(np); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("OpenBundle of np: %v, want ErrNotBundle", err)
	}
	p, err := OpenBundle(bundle)
	if err != nil || !p.Trailer.Bundle {
		t.Fatalf("OpenBundle: %v %+v", err, p)
	}
	p.Close()
	// A trailer that lies about the kind of its payload installs nothing.
	liar, err := OpenBundle(makeBundle(t, testManifest(), goodEntries()))
	if err != nil {
		t.Fatal(err)
	}
	defer liar.Close()
	tg := openTarget(t)
	if _, _, err := tg.EnsureBundle(liar, Options{}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("np's payload behind a bundle trailer: %v", err)
	}
}

func TestEnsureBundleInstallsRootsAndLeavesRegistration(t *testing.T) {
	p, err := OpenBundle(makeBundle(t, bundleManifest(), bundleEntries()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tg := openTarget(t)
	// np's own install is there: a bundle must leave its record and roots
	// alone.
	np, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer np.Close()
	if _, _, err := tg.Ensure(np, Options{}); err != nil {
		t.Fatal(err)
	}
	m, fresh, err := tg.EnsureBundle(p, Options{})
	if err != nil || !fresh || m.Bundle.Program != pathG+"/bin/greet" {
		t.Fatalf("EnsureBundle: %v fresh=%v", err, fresh)
	}
	if tg.Installed(np.Trailer.Fingerprint()) == nil {
		t.Fatal("installing a bundle undid np's install record")
	}
	if target, _ := os.Readlink(filepath.Join(tg.gcRootDirOf(np.Trailer.Fingerprint()), filepath.Base(pathA))); target != pathA {
		t.Fatal("installing a bundle removed np's GC root")
	}
	fp := p.Trailer.Fingerprint()
	if target, _ := os.Readlink(filepath.Join(tg.BundleRootDir(fp), filepath.Base(pathG))); target != pathG {
		t.Fatalf("bundle GC root points at %q", target)
	}
	if data, err := os.ReadFile(filepath.Join(tg.Store(), filepath.Base(pathS), "bin", "shout")); err != nil || string(data) != "shout" {
		t.Fatalf("installed file: %q %v", data, err)
	}
	if _, fresh, err := tg.EnsureBundle(p, Options{Check: func() error { return errors.New("checked again") }}); err != nil || fresh {
		t.Fatalf("second EnsureBundle: %v fresh=%v", err, fresh)
	}

	// np loads the registration once, and only while every path is there.
	var loaded []*Manifest
	load := func(m *Manifest) error { loaded = append(loaded, m); return nil }
	if err := tg.LoadPending(load); err != nil || len(loaded) != 1 || len(loaded[0].Paths) != 2 {
		t.Fatalf("LoadPending: %v, loaded %d", err, len(loaded))
	}
	if err := tg.LoadPending(load); err != nil || len(loaded) != 1 {
		t.Fatalf("a registration was loaded twice: %v", err)
	}

	// A store path gone (a user's rm): the next run installs again, and
	// the registration waits until the paths are back.
	RemoveTree(filepath.Join(tg.Store(), filepath.Base(pathS)))
	if tg.InstalledBundle(fp) != nil {
		t.Fatal("a bundle with a missing store path counts as installed")
	}
	os.WriteFile(filepath.Join(tg.pendingDir(), "x.json"), mustJSON(bundleManifest()), 0o644)
	if err := tg.LoadPending(load); err != nil || len(loaded) != 1 {
		t.Fatalf("a registration of missing paths was loaded: %v", err)
	}
	if _, fresh, err := tg.EnsureBundle(p, Options{}); err != nil || !fresh {
		t.Fatalf("reinstall: %v fresh=%v", err, fresh)
	}
	if err := tg.LoadPending(load); err != nil || len(loaded) != 3 {
		t.Fatalf("after the reinstall: %v, loaded %d, want 3", err, len(loaded))
	}
	if left, _ := os.ReadDir(tg.pendingDir()); len(left) != 0 {
		t.Fatalf("registrations left: %v", left)
	}
}

func TestFailedLoadKeepsTheRegistration(t *testing.T) {
	p, _ := OpenBundle(makeBundle(t, bundleManifest(), bundleEntries()))
	defer p.Close()
	tg := openTarget(t)
	if _, _, err := tg.EnsureBundle(p, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := tg.LoadPending(func(*Manifest) error { return errors.New("nix-store broke") }); err == nil || !strings.Contains(err.Error(), "nix-store broke") {
		t.Fatalf("got %v", err)
	}
	if left, _ := os.ReadDir(tg.pendingDir()); len(left) != 1 {
		t.Fatalf("a failed registration was dropped: %v", left)
	}
}

func TestBundleManifestChecks(t *testing.T) {
	for name, mutate := range map[string]func(*BundleInfo){
		"program outside": func(b *BundleInfo) { b.Program = "/bin/sh" },
		"program escapes": func(b *BundleInfo) { b.Program = pathG + "/../../../bin/sh" },
		"foreign output":  func(b *BundleInfo) { b.Outputs = []string{"/nix/store/cccccccccccccccccccccccccccccccc-other"} },
		"no outputs":      func(b *BundleInfo) { b.Outputs = nil },
		"unlisted program": func(b *BundleInfo) {
			b.Programs = append(b.Programs, "/nix/store/cccccccccccccccccccccccccccccccc-x/bin/x")
		},
	} {
		m := bundleManifest()
		mutate(m.Bundle)
		if _, err := parseManifest(mustJSON(m)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseManifest(mustJSON(bundleManifest())); err != nil {
		t.Fatalf("a good bundle manifest: %v", err)
	}
}

func TestProgramFor(t *testing.T) {
	b := bundleManifest().Bundle
	for name, want := range map[string]string{"greet": pathG + "/bin/greet", "shout": pathS + "/bin/shout", "bundle": pathG + "/bin/greet"} {
		if got := b.ProgramFor(name); got != want {
			t.Errorf("ProgramFor(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSubsetKeepsOnlyNamedPaths(t *testing.T) {
	got := string(bundleManifest().Subset(map[string]bool{pathG: true}).Registration())
	want := pathG + "\n" + strings.Repeat("3", 64) + "\n3\n\n1\n" + pathS + "\n"
	if got != want {
		t.Fatalf("registration:\n%q\nwant\n%q", got, want)
	}
}
