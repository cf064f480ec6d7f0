//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/storepath"
)

// installRecords lists the install records (one per payload) in loc's
// data dir.
func installRecords(loc string) []string {
	recs, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "var", "np", "installs", "*.json"))
	return recs
}

var (
	otherOnce  sync.Once
	otherBin   string
	otherExtra string // the store path only the other version has
)

// otherVersion builds a second np: the bare binary with bin/np's payload
// plus one store path of its own (np-test-extra), as a later np version
// with a different payload would be.
func otherVersion(t *testing.T) (bin, extra string) {
	t.Helper()
	otherOnce.Do(func() {
		// Inside the shared location, which TestMain removes at the end.
		dir, err := os.MkdirTemp(sharedLocation(t), "np-other-")
		if err != nil {
			t.Fatal(err)
		}
		bin, extra, err := buildOtherVersion(dir)
		if err != nil {
			t.Fatalf("building a second np version: %v", err)
		}
		otherBin, otherExtra = bin, extra
	})
	if otherBin == "" {
		t.Fatal("building the second np version failed earlier")
	}
	return otherBin, otherExtra
}

func buildOtherVersion(dir string) (string, string, error) {
	p, err := extract.OpenPayload(npBin)
	if err != nil {
		return "", "", err
	}
	defer p.Close()
	zr, err := zstd.NewReader(io.NewSectionReader(p.File, p.Trailer.Offset, p.Trailer.Length))
	if err != nil {
		return "", "", err
	}
	defer zr.Close()

	// The extra path's content, named after it as mkpayload would.
	content := filepath.Join(dir, "extra")
	os.Mkdir(content, 0o755)
	os.WriteFile(filepath.Join(content, "f"), []byte("only in the other version\n"), 0o444)
	info, err := storepath.Scan(content, nil)
	if err != nil {
		return "", "", err
	}
	narHash := ""
	for _, b := range info.NARHash {
		narHash += string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15])
	}
	name := storepath.HashPart("np-test-extra:"+narHash) + "-np-test-extra"

	var out bytes.Buffer
	zw, _ := zstd.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return "", "", err
		}
		if h.Name == "manifest.json" {
			var m extract.Manifest
			if err := json.Unmarshal(body, &m); err != nil {
				return "", "", err
			}
			m.Paths = append(m.Paths, extract.PathEntry{Path: extract.StoreDir + "/" + name, NarHash: narHash, NarSize: info.NARSize, References: []string{}})
			body, _ = json.Marshal(m)
			h.Size = int64(len(body))
		}
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.WriteHeader(&tar.Header{Name: "store/" + name + "/", Typeflag: tar.TypeDir, Mode: 0o555})
	f := []byte("only in the other version\n")
	tw.WriteHeader(&tar.Header{Name: "store/" + name + "/f", Typeflag: tar.TypeReg, Mode: 0o444, Size: int64(len(f))})
	tw.Write(f)
	tw.Close()
	zw.Close()

	bin := filepath.Join(dir, "np")
	bare, err := os.ReadFile(bareBin)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(bin, bare, 0o755); err != nil {
		return "", "", err
	}
	if _, err := extract.Attach(bin, &out); err != nil {
		return "", "", err
	}
	return bin, extract.StoreDir + "/" + name, nil
}

func TestSwitchingBetweenTwoNpVersionsDoesNotReinstall(t *testing.T) {
	other, _ := otherVersion(t)
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "run", "true"))
	must(t, np(t, runOpts{loc: loc, bin: other}, "run", "true"))
	for _, bin := range []string{npBin, other, npBin} {
		r := np(t, runOpts{loc: loc, bin: bin, env: []string{"NP_DEBUG=1"}}, "run", "true")
		must(t, r)
		if strings.Contains(r.stderr, "installing payload") {
			t.Fatalf("%s reinstalled after a switch:\n%s", bin, r.stderr)
		}
	}
}

func TestGCFromOneVersionKeepsTheOthersNix(t *testing.T) {
	other, extra := otherVersion(t)
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc, bin: other}, "run", "true"))
	must(t, np(t, runOpts{loc: loc}, "run", "true"))
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--gc"))
	if got := must(t, np(t, runOpts{loc: loc, bin: other}, "run", "cat", extra+"/f")); got != "only in the other version\n" {
		t.Fatalf("the other version's own path after a GC by this one: %q", got)
	}
	must(t, np(t, runOpts{loc: loc, bin: other}, "nix-store", "--verify", "--check-contents"))
}

func TestGCVersionsForgetsOtherVersionsOnly(t *testing.T) {
	other, extra := otherVersion(t)
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc, bin: other}, "run", "true"))
	must(t, np(t, runOpts{loc: loc}, "run", "true"))
	r := np(t, runOpts{loc: loc}, "gc", "--versions")
	must(t, r)
	if !strings.Contains(r.stderr, "1 other np versions forgotten") {
		t.Errorf("np gc --versions said: %s", r.stderr)
	}
	host := filepath.Join(loc, ".nix-portable", strings.TrimPrefix(extra, "/"))
	if _, err := os.Lstat(host); err == nil {
		t.Errorf("np gc --versions left the other version's own path %s", extra)
	}
	// This np's Nix is intact; the forgotten one reinstalls when it runs.
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"))
	if got := must(t, np(t, runOpts{loc: loc, bin: other}, "run", "cat", extra+"/f")); got != "only in the other version\n" {
		t.Fatalf("the forgotten version after reinstalling: %q", got)
	}
}
