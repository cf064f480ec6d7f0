package guestpath

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// resolveTree makes a host tree (outside /nix) and a Nix dir:
//
//	HOST/a/f, HOST/a/b/, HOST/l1 -> a, HOST/l2 -> HOST/a/f, HOST/loop -> loop,
//	HOST/dangling -> nowhere, HOST/up -> .., HOST/c1 -> c2 -> a/b,
//	HOST/tonix -> /nix/store
//	NIX/store/p/f, NIX/store/abs -> /nix/store/p, NIX/store/out -> HOST/a,
//	NIX/store/esc -> ../..
func resolveTree(t testing.TB) (host, nix string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host, nix = base+"/host", base+"/nix"
	for _, d := range []string{host + "/a/b", nix + "/store/p"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(host+"/a/f", []byte("f"), 0o644)
	os.WriteFile(nix+"/store/p/f", []byte("f"), 0o644)
	links := map[string]string{
		host + "/l1": "a", host + "/l2": host + "/a/f", host + "/loop": "loop", host + "/dangling": "nowhere",
		host + "/up": "..", host + "/c1": "c2", host + "/c2": "a/b", host + "/tonix": "/nix/store",
		nix + "/store/abs": "/nix/store/p", nix + "/store/out": host + "/a", nix + "/store/esc": "../..",
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	return host, nix
}

func TestResolverTranslatesAndFollows(t *testing.T) {
	host, nix := resolveTree(t)
	r := &Resolver{View: View{NixDir: nix}, FS: &RealFS{}}
	cases := []struct {
		base, path string
		follow     bool
		guest      string
		crossed    bool
		errno      unix.Errno
	}{
		{"/", "/nix/store/p/f", true, "/nix/store/p/f", true, 0},
		{"/", "/nix/store/abs/f", true, "/nix/store/p/f", true, 0},
		{"/", "/nix/store/abs", false, "/nix/store/abs", true, 0},
		{"/", "/nix/store/abs/", false, "/nix/store/p", true, 0},
		{"/", "/nix/store/out/f", true, host + "/a/f", true, 0},
		{"/", "/nix/store/esc", true, "/", true, 0},
		{"/", host + "/tonix/p/f", true, "/nix/store/p/f", true, 0},
		{"/", host + "/l1/f", true, host + "/a/f", false, 0},
		{"/", host + "/l2", true, host + "/a/f", false, 0},
		{"/", host + "/l2/", true, "", false, unix.ENOTDIR},
		{"/", host + "/loop", true, "", false, unix.ELOOP},
		{"/", host + "/loop", false, host + "/loop", false, 0},
		{"/", host + "/dangling", true, host + "/nowhere", false, 0},
		{"/", host + "/missing/x", true, "", false, unix.ENOENT},
		{"/", host + "/a/f/..", true, "", false, unix.ENOTDIR},
		{"/", host + "/c1/../f", true, host + "/a/f", false, 0},
		{"/", host + "/up/host/a", true, host + "/a", false, 0},
		{"/nix/store", "p/f", true, "/nix/store/p/f", false, 0},
		{"/nix/store", "../..", true, "/", true, 0},
		{"/nix", "..", true, "/", true, 0},
		{"/", "/proc/self/fd/3", true, "/proc/self/fd/3", false, 0},
		{"/", "/nix/../proc/123/exe", true, "/proc/123/exe", true, 0},
		{"/", "", true, "", false, unix.ENOENT},
	}
	for _, c := range cases {
		res, errno := r.Resolve(c.base, c.path, c.follow)
		if errno != c.errno || errno == 0 && (res.Guest != c.guest || res.Crossed != c.crossed) {
			t.Errorf("resolve(%q, %q, follow=%v) = %+v, %v; want %q crossed=%v, %v", c.base, c.path, c.follow, res, errno, c.guest, c.crossed, c.errno)
		}
	}
	if got := r.HostPath(Resolved{Guest: "/nix/store/p", TrailingSlash: true}); got != nix+"/store/p/" {
		t.Errorf("hostPath keeps the trailing slash: %q", got)
	}
	if got := r.ToGuest(nix + "/store"); got != "/nix/store" {
		t.Errorf("toGuest: %q", got)
	}
	if got := r.ToGuest(nix + "x/store"); got != nix+"x/store" {
		t.Errorf("toGuest of a sibling with a common prefix: %q", got)
	}
}

// FuzzResolver checks the resolver against the kernel on paths that never
// reach /nix or /proc: same errno, same canonical path.
func FuzzResolver(f *testing.F) {
	for _, s := range []string{"a/f", "l1/f", "l2", "l2/", "loop", "dangling", "c1/../f", "up/host/a/b/..",
		"a//b/./", "missing/x", "a/f/..", "tonix/p", "../..", "l1/b/../../l2", ""} {
		f.Add(s, true)
		f.Add(s, false)
	}
	host, nix := resolveTree(f)
	r := &Resolver{View: View{NixDir: nix}, FS: &RealFS{}}
	f.Fuzz(func(t *testing.T, rel string, follow bool) {
		if len(rel) > 1000 || strings.ContainsRune(rel, 0) {
			return
		}
		path := host + "/" + rel
		res, errno := r.Resolve("/", path, follow)
		if res.Crossed || res.Proc {
			return
		}
		flags := unix.O_PATH | unix.O_CLOEXEC
		if !follow {
			flags |= unix.O_NOFOLLOW
		}
		fd, kerr := unix.Open(path, flags, 0)
		if kerr != nil {
			kerrno := kerr.(unix.Errno)
			if errno == 0 && kerrno == unix.ENOENT {
				// The resolver accepts a missing last component (a
				// create may follow); the kernel's open does not.
				if _, err := os.Lstat(r.ToHost(res.Guest)); err == nil {
					t.Fatalf("%q follow=%v: kernel ENOENT, Resolver %q exists", rel, follow, res.Guest)
				}
				return
			}
			if errno != kerrno {
				t.Fatalf("%q follow=%v: kernel %v, Resolver %v (%q)", rel, follow, kerrno, errno, res.Guest)
			}
			return
		}
		defer unix.Close(fd)
		if errno != 0 {
			t.Fatalf("%q follow=%v: kernel ok, Resolver %v", rel, follow, errno)
		}
		buf := make([]byte, 4096)
		n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); got != res.Guest {
			t.Fatalf("%q follow=%v: kernel %q, Resolver %q", rel, follow, got, res.Guest)
		}
	})
}
