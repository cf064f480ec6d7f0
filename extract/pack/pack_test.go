package pack_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/extract/pack"
)

const (
	pathG = "/nix/store/gggggggggggggggggggggggggggggggg-greet-1"
	pathS = "/nix/store/ssssssssssssssssssssssssssssssss-shout-1"
)

// fakeStore lays out two store paths in a directory, with the metadata a
// host store would have (owners, times, modes) that must not reach the
// archive.
func fakeStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	g := filepath.Join(dir, filepath.Base(pathG))
	s := filepath.Join(dir, filepath.Base(pathS))
	for _, d := range []string{g + "/bin", g + "/share/doc", s + "/bin"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(g+"/bin/greet", []byte("#!"+pathS+"/bin/shout\n"), 0o755)
	os.WriteFile(g+"/share/doc/README", []byte("read me"), 0o600)
	os.Symlink(pathS+"/bin/shout", g+"/bin/shout")
	os.WriteFile(s+"/bin/shout", bytes.Repeat([]byte("shout "), 1000), 0o700)
	return dir
}

func manifest() *extract.Manifest {
	return &extract.Manifest{Version: 1,
		Paths: []extract.PathEntry{
			{Path: pathG, NarHash: strings.Repeat("3", 64), NarSize: 3, References: []string{pathS}},
			{Path: pathS, NarHash: strings.Repeat("4", 64), NarSize: 4, References: []string{}},
		},
		Bundle: &extract.BundleInfo{Outputs: []string{pathG}, Program: pathG + "/bin/greet",
			Programs: []string{pathG + "/bin/greet", pathS + "/bin/shout"}},
	}
}

// writeBundle is what np bundle writes: a program, the payload, a trailer.
func writeBundle(t *testing.T, store string, level pack.Level) string {
	t.Helper()
	var payload bytes.Buffer
	zw, err := pack.Compress(&payload, level, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if err := pack.WriteTar(zw, manifest(), store); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	prog := []byte("\x7fELF pretend np")
	tr := extract.Trailer{Offset: int64(len(prog)), Length: int64(payload.Len()), Sum: sha256.Sum256(payload.Bytes()), Bundle: true}
	bin := filepath.Join(t.TempDir(), "greet")
	data := append(append(prog, payload.Bytes()...), tr.Marshal()...)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestSameStorePathsGiveTheSameBytes(t *testing.T) {
	for _, level := range []pack.Level{pack.Fast, pack.Max} {
		a, _ := os.ReadFile(writeBundle(t, fakeStore(t), level))
		// Another copy, made at another time with other modes and times.
		store := fakeStore(t)
		os.Chmod(filepath.Join(store, filepath.Base(pathG), "share", "doc", "README"), 0o644)
		os.Chtimes(filepath.Join(store, filepath.Base(pathS), "bin", "shout"), time.Unix(12345, 0), time.Unix(12345, 0))
		b, _ := os.ReadFile(writeBundle(t, store, level))
		if !bytes.Equal(a, b) {
			t.Fatalf("level %d: two archives of the same store paths differ", level)
		}
	}
}

func TestArchiveInstallsWhatWasPacked(t *testing.T) {
	store := fakeStore(t)
	p, err := extract.OpenBundle(writeBundle(t, store, pack.Max))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	m, err := extract.ReadManifest(p)
	if err != nil || m.Bundle.Program != pathG+"/bin/greet" {
		t.Fatalf("ReadManifest: %v", err)
	}
	dir := t.TempDir()
	t.Cleanup(func() { extract.RemoveTree(dir) })
	tg := extract.Target{NixDir: filepath.Join(dir, "nix")}
	if _, _, err := tg.EnsureBundle(p, extract.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"bin/greet", "share/doc/README"} {
		want, _ := os.ReadFile(filepath.Join(store, filepath.Base(pathG), rel))
		got, err := os.ReadFile(filepath.Join(tg.Store(), filepath.Base(pathG), rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %q %v", rel, got, err)
		}
	}
	st, _ := os.Stat(filepath.Join(tg.Store(), filepath.Base(pathS), "bin", "shout"))
	if st.Mode().Perm() != 0o555 {
		t.Fatalf("executable installed with mode %v", st.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(tg.Store(), filepath.Base(pathG), "bin", "shout")); l != pathS+"/bin/shout" {
		t.Fatalf("symlink installed as %q", l)
	}
}

func TestMissingStorePathFails(t *testing.T) {
	store := fakeStore(t)
	os.RemoveAll(filepath.Join(store, filepath.Base(pathS)))
	if err := pack.WriteTar(io.Discard, manifest(), store); err == nil {
		t.Fatal("an archive without one of its store paths was written")
	}
}

func TestWindowFor(t *testing.T) {
	for n, want := range map[int64]int{0: 1 << 10, 1000: 1 << 10, 1025: 1 << 11, 1 << 40: 1 << 27} {
		if got := pack.WindowFor(n); got != want {
			t.Errorf("WindowFor(%d) = %d, want %d", n, got, want)
		}
	}
}
