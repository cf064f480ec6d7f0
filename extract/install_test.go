package extract

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const (
	pathA = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nix-9.9"
	pathB = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-busybox-1"
)

type entry struct {
	name, body, link string
	dir, exec        bool
}

func testManifest() *Manifest {
	return &Manifest{Version: 1, NixVersion: "9.9", Nix: pathA, Busybox: pathB, CABundle: pathB + "/ca.crt",
		Paths: []PathEntry{
			{Path: pathA, NarHash: strings.Repeat("0", 64), NarSize: 1, References: []string{pathA, pathB}},
			{Path: pathB, NarHash: strings.Repeat("1", 64), NarSize: 2},
		}}
}

func goodEntries() []entry {
	a, b := "store/"+filepath.Base(pathA), "store/"+filepath.Base(pathB)
	return []entry{
		{name: "store", dir: true},
		{name: a, dir: true}, {name: a + "/bin", dir: true},
		{name: a + "/bin/nix", body: "#!/bin/sh\n", exec: true},
		{name: a + "/bin/nix-build", link: "nix"},
		{name: b, dir: true}, {name: b + "/ca.crt", body: "cert"},
	}
}

// makeBinary writes a fake executable with a payload built from m and entries.
func makeBinary(t *testing.T, m *Manifest, entries []entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if m != nil {
		data, _ := json.Marshal(m)
		tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o444, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o444, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o555, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case e.exec:
			h.Mode = 0o555
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	zw.Close()
	bin := filepath.Join(t.TempDir(), "np")
	os.WriteFile(bin, []byte("\x7fELF pretend executable"), 0o755)
	if _, err := Attach(bin, &buf); err != nil {
		t.Fatal(err)
	}
	return bin
}

func openTarget(t *testing.T) Target {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { RemoveTree(dir) })
	return Target{NixDir: filepath.Join(dir, "nix")}
}

func TestTrailerRoundTrip(t *testing.T) {
	bin := makeBinary(t, testManifest(), goodEntries())
	p, err := OpenPayload(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Trailer.Offset != int64(len("\x7fELF pretend executable")) || p.Trailer.Length == 0 {
		t.Fatalf("trailer %+v", p.Trailer)
	}
	if _, err := Attach(bin, strings.NewReader("x")); err == nil {
		t.Fatal("attaching a second payload succeeded")
	}
}

func TestNoPayload(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "np")
	os.WriteFile(bin, bytes.Repeat([]byte{1}, 200), 0o755)
	if _, err := OpenPayload(bin); !errors.Is(err, ErrNoPayload) {
		t.Fatalf("got %v, want ErrNoPayload", err)
	}
}

func TestEnsureInstallsOnceAndRecordsLast(t *testing.T) {
	p, err := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tg := openTarget(t)
	finished := 0
	opts := Options{Finish: func(m *Manifest) error {
		finished++
		if _, err := os.Stat(tg.StateFile(p.Trailer.Fingerprint())); err == nil {
			t.Error("state written before Finish ran")
		}
		return nil
	}}
	m, fresh, err := tg.Ensure(p, opts)
	if err != nil || !fresh || m.NixVersion != "9.9" {
		t.Fatalf("Ensure: %v fresh=%v", err, fresh)
	}
	data, err := os.ReadFile(filepath.Join(tg.Store(), filepath.Base(pathA), "bin", "nix"))
	if err != nil || string(data) != "#!/bin/sh\n" {
		t.Fatalf("installed file: %q %v", data, err)
	}
	st, _ := os.Stat(filepath.Join(tg.Store(), filepath.Base(pathA), "bin", "nix"))
	if st.Mode().Perm() != 0o555 || st.ModTime().Unix() != 1 {
		t.Fatalf("installed file mode %v mtime %v; want 0555 and Nix's canonical mtime 1", st.Mode(), st.ModTime().Unix())
	}
	if target, _ := os.Readlink(filepath.Join(tg.Store(), filepath.Base(pathA), "bin", "nix-build")); target != "nix" {
		t.Fatalf("symlink target %q", target)
	}
	if target, _ := os.Readlink(filepath.Join(tg.GCRootDir(), p.Trailer.Fingerprint(), filepath.Base(pathA))); target != pathA {
		t.Fatalf("GC root points at %q", target)
	}
	if _, fresh, err := tg.Ensure(p, opts); err != nil || fresh || finished != 1 {
		t.Fatalf("second Ensure: %v fresh=%v finished=%d", err, fresh, finished)
	}
	tmp, _ := os.ReadDir(filepath.Join(tg.npDir(), "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("staging left behind: %v", tmp)
	}
}

func TestFailedFinishIsNotRecorded(t *testing.T) {
	p, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer p.Close()
	tg := openTarget(t)
	_, _, err := tg.Ensure(p, Options{Finish: func(*Manifest) error { return errors.New("registration broke") }})
	if err == nil || !strings.Contains(err.Error(), "registration broke") {
		t.Fatalf("got %v", err)
	}
	if tg.Installed(p.Trailer.Fingerprint()) != nil {
		t.Fatal("a failed install is recorded as complete")
	}
	if _, fresh, err := tg.Ensure(p, Options{}); err != nil || !fresh {
		t.Fatalf("retry: %v fresh=%v", err, fresh)
	}
}

func TestCorruptPayloadMovesNothing(t *testing.T) {
	bin := makeBinary(t, testManifest(), goodEntries())
	data, _ := os.ReadFile(bin)
	p0, _ := OpenPayload(bin)
	p0.Close()
	// Corrupt the last byte of the compressed stream (after the tar data
	// the decoder needs, so only the checksum can catch it... or the decoder).
	data[p0.Trailer.Offset+p0.Trailer.Length-1] ^= 0xff
	os.WriteFile(bin, data, 0o755)
	p, err := OpenPayload(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tg := openTarget(t)
	if _, _, err := tg.Ensure(p, Options{}); err == nil {
		t.Fatal("a corrupt payload installed")
	}
	entries, _ := os.ReadDir(tg.Store())
	if len(entries) != 0 {
		t.Fatalf("store paths moved in from a corrupt payload: %v", entries)
	}
}

func TestHostileEntriesAreRefused(t *testing.T) {
	a := "store/" + filepath.Base(pathA)
	cases := map[string]struct {
		extra []entry
		want  string
	}{
		"outside store":     {[]entry{{name: "etc/passwd", body: "x"}}, "outside store/"},
		"dot-dot":           {[]entry{{name: "store/../../escape", body: "x"}}, "outside store/"},
		"through a symlink": {[]entry{{name: a + "/l", link: "/tmp"}, {name: a + "/l/planted", body: "x"}}, a + "/l"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			// A complete, valid payload plus the hostile entries: only they
			// can be what is refused.
			p, _ := OpenPayload(makeBinary(t, testManifest(), append(goodEntries(), c.extra...)))
			defer p.Close()
			tg := openTarget(t)
			_, _, err := tg.Ensure(p, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if _, err := os.Stat("/tmp/planted"); err == nil {
				t.Fatal("a file was written through a symlink")
			}
		})
	}
}

func TestManifestMustMatchArchive(t *testing.T) {
	m := testManifest()
	m.Paths = append(m.Paths, PathEntry{Path: "/nix/store/cccccccccccccccccccccccccccccccc-missing", NarHash: strings.Repeat("2", 64)})
	p, _ := OpenPayload(makeBinary(t, m, goodEntries()))
	defer p.Close()
	if _, _, err := openTarget(t).Ensure(p, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("got %v, want an error naming the missing path", err)
	}
	bad := testManifest()
	bad.Paths[0].Path = "/nix/store/../../etc"
	if _, err := parseManifest(mustJSON(bad)); err == nil {
		t.Fatal("a manifest path outside the store was accepted")
	}
}

func TestConcurrentEnsureInstallsOnce(t *testing.T) {
	bin := makeBinary(t, testManifest(), goodEntries())
	tg := openTarget(t)
	var mu sync.Mutex
	finished := 0
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := OpenPayload(bin)
			if err != nil {
				errs[i] = err
				return
			}
			defer p.Close()
			_, _, errs[i] = tg.Ensure(p, Options{Finish: func(*Manifest) error { mu.Lock(); finished++; mu.Unlock(); return nil }})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if finished != 1 {
		t.Fatalf("Finish ran %d times, want once", finished)
	}
}

func TestRegistrationFormat(t *testing.T) {
	got := string(testManifest().Registration())
	want := pathA + "\n" + strings.Repeat("0", 64) + "\n1\n\n2\n" + pathA + "\n" + pathB + "\n" +
		pathB + "\n" + strings.Repeat("1", 64) + "\n2\n\n0\n"
	if got != want {
		t.Fatalf("registration:\n%q\nwant\n%q", got, want)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestUnlistedStorePathIsRefused(t *testing.T) {
	entries := append(goodEntries(), entry{name: "store/cccccccccccccccccccccccccccccccc-stowaway", dir: true})
	p, _ := OpenPayload(makeBinary(t, testManifest(), entries))
	defer p.Close()
	tg := openTarget(t)
	if _, _, err := tg.Ensure(p, Options{}); err == nil || !strings.Contains(err.Error(), "stowaway") {
		t.Fatalf("got %v, want an error naming the unlisted path", err)
	}
	if entries, _ := os.ReadDir(tg.Store()); len(entries) != 0 {
		t.Fatalf("store paths moved in: %v", entries)
	}
}

func TestAbandonedStagingIsCleanedUp(t *testing.T) {
	p, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer p.Close()
	tg := openTarget(t)
	// What an np killed mid-install leaves: a staging tree with read-only dirs.
	old := filepath.Join(tg.npDir(), "tmp", "install-killed", "store", "x")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(old, 0o555)
	if _, _, err := tg.Ensure(p, Options{}); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(tg.npDir(), "tmp")); len(left) != 0 {
		t.Fatalf("staging trees left after an install: %v", left)
	}
}

func TestSymlinkedStagingDirIsRefusedAndItsTargetKept(t *testing.T) {
	p, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer p.Close()
	tg := openTarget(t)
	precious := t.TempDir()
	thesis := filepath.Join(precious, "thesis.tex")
	os.WriteFile(thesis, []byte("years of work"), 0o644)
	os.MkdirAll(tg.npDir(), 0o755)
	if err := os.Symlink(precious, filepath.Join(tg.npDir(), "tmp")); err != nil {
		t.Fatal(err)
	}
	_, _, err := tg.Ensure(p, Options{})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("install with var/np/tmp a symlink: %v, want a refusal naming the link", err)
	}
	if b, err := os.ReadFile(thesis); err != nil || string(b) != "years of work" {
		t.Fatalf("the symlink's target was emptied: %v", err)
	}
}

func TestSymlinkedGCRootDirIsNeverWrittenThrough(t *testing.T) {
	p, _ := OpenPayload(makeBinary(t, testManifest(), goodEntries()))
	defer p.Close()
	tg := openTarget(t)
	elsewhere := t.TempDir()
	keep := filepath.Join(elsewhere, "keep")
	os.WriteFile(keep, nil, 0o644)
	os.MkdirAll(filepath.Dir(tg.GCRootDir()), 0o755)
	if err := os.Symlink(elsewhere, tg.GCRootDir()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tg.Ensure(p, Options{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("install with gcroots/np a symlink: %v, want a refusal naming the link", err)
	}
	entries, _ := os.ReadDir(elsewhere)
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Fatalf("np wrote into or deleted from the symlink's target: %v", entries)
	}
}
