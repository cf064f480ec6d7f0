package ptrace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallsSeeTheCallersMountNamespace: a program that mounts under /nix
// in a mount namespace of its own (as Nix's build sandbox sets up its
// chroot) sees its mount in every call, also those the notification
// server answers by making them itself (it does not live in that
// namespace). Before, its opens, stats and listings reached the
// directory under the mount, in np's namespace (main/build of Nix's
// suite: "setting permissions on …/dev/pts/ptmx: No such file"). The
// traced run must print what the same script prints natively on the
// data dir's paths (on this host: the tmpfs's files, never the one under
// it).
func TestCallsSeeTheCallersMountNamespace(t *testing.T) {
	f := getFixture(t)
	unshare, err := lookPath("unshare")
	if err != nil {
		t.Fatalf("this test needs util-linux's unshare: %v", err)
	}
	n := 0
	modes(t, func(t *testing.T, noSeccomp bool) {
		n++
		dir := "/dir/mnt" + itoa(n)
		host := f.nix + dir
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(host)
		if err := os.WriteFile(host+"/under", []byte("under\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `mount -t tmpfs t G || exit 1
echo in > G/new && chmod 600 G/new && ls G && cat G/new && stat -c %a G/new
test -e G/under && echo under-visible
mkdir G/d && mv G/new G/d/moved && ls G/d && rm G/d/moved && rmdir G/d && ls G
echo done`
		// What the kernel does natively (a host that refuses unshare,
		// as make unit's hostile passes do, fails it the same way).
		want := native(t, unshare, "-rm", "/bin/sh", "-c", strings.ReplaceAll(script, "G", host))
		if want != "new\nin\n600\nmoved\ndone\n" {
			t.Logf("natively, a tmpfs mount in a user namespace gives %q here; the traced run must too", want)
		}
		r := traced(t, f.nix, noSeccomp, unshare, "-rm", "/bin/sh", "-c", strings.ReplaceAll(script, "G", "/nix"+dir))
		expect(t, r, want)
		names, _ := filepath.Glob(host + "/*")
		if len(names) != 1 || filepath.Base(names[0]) != "under" {
			t.Errorf("the data dir's directory under the mount holds %q, want only under", names)
		}
	})
}

func lookPath(name string) (string, error) {
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		if fi, err := os.Stat(d + "/" + name); err == nil && !fi.IsDir() {
			return d + "/" + name, nil
		}
	}
	return "", os.ErrNotExist
}

// TestOverlayMountOfNixDirectories: an overlay mount's directories, given
// in its options (lowerdir=/nix/…), are the data dir's, as its source and
// target are (local-overlay-store/bad-uris of Nix's suite took the
// untranslated mount's failure for a kernel without overlayfs). The same
// script run natively on the data dir's paths says what the kernel
// allows: before Linux 5.11 an overlay mount in a user namespace is
// refused, and the traced run must then fail as the native one does.
func TestOverlayMountOfNixDirectories(t *testing.T) {
	f := getFixture(t)
	unshare, err := lookPath("unshare")
	if err != nil {
		t.Fatalf("this test needs util-linux's unshare: %v", err)
	}
	n := 0
	modes(t, func(t *testing.T, noSeccomp bool) {
		n++
		dir := "/dir/ov" + itoa(n)
		host := f.nix + dir
		for _, d := range []string{"l1", "l2", "u", "w", "m"} {
			if err := os.MkdirAll(host+"/"+d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		defer os.RemoveAll(host)
		os.WriteFile(host+"/l1/a", []byte("a\n"), 0o644)
		os.WriteFile(host+"/l2/b", []byte("b\n"), 0o644)
		script := `mount -t overlay overlay -o lowerdir=G/l1:G/l2,upperdir=G/u,workdir=G/w G/m || exit 1
cat G/m/a G/m/b && echo c > G/m/c && ls G/m && rm G/m/c`
		want := native(t, unshare, "-rm", "/bin/sh", "-c", strings.ReplaceAll(script, "G", host))
		if want != "a\nb\na\nb\nc\n" {
			t.Logf("natively, this kernel's overlay mount in a user namespace gives %q; the traced run must too", want)
		}
		os.RemoveAll(host + "/u")
		os.RemoveAll(host + "/w")
		os.Mkdir(host+"/u", 0o755)
		os.Mkdir(host+"/w", 0o755)
		script = strings.Replace(script, " && rm G/m/c", "", 1)
		r := traced(t, f.nix, noSeccomp, unshare, "-rm", "/bin/sh", "-c", strings.ReplaceAll(script, "G", "/nix"+dir))
		expect(t, r, want)
		if b, err := os.ReadFile(host + "/u/c"); want != "" && (err != nil || string(b) != "c\n") {
			t.Errorf("the upper directory in the data dir: %q %v", b, err)
		}
	})
}
