//go:build integration

package integration

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubstituteFromHTTPBinaryCache is np's main job in miniature: fetch a
// store path from a real HTTP binary cache (served on 127.0.0.1) into a
// fresh data dir, as `np nix-shell -p hello` does from cache.nixos.org.
func TestSubstituteFromHTTPBinaryCache(t *testing.T) {
	expr := `derivation { name = "cached"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo from-the-cache > $out"]; }`
	path := strings.TrimSpace(must(t, np(t, runOpts{}, "nix-build", "--no-out-link", "-E", expr)))

	cache := t.TempDir()
	must(t, np(t, runOpts{}, "nix", "copy", "--to", "file://"+cache, path))
	if _, err := os.Stat(filepath.Join(cache, "nix-cache-info")); err != nil {
		t.Fatalf("nix copy made no binary cache: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(cache))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	loc := newLocation(t)
	url := "http://" + ln.Addr().String()
	r := np(t, runOpts{loc: loc}, "nix-store", "--realise", path,
		"--option", "substituters", url, "--option", "require-sigs", "false")
	if got := strings.TrimSpace(must(t, r)); got != path {
		t.Fatalf("nix-store --realise printed %q, want %q", got, path)
	}
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(path)))
	if err != nil || string(data) != "from-the-cache\n" {
		t.Fatalf("substituted path holds %q (%v)", data, err)
	}
}
