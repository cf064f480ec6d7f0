package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestUpstreamVersion(t *testing.T) {
	list := "busybox-static_1%3a1.37.0-6+b9_amd64.deb\n" +
		"ca-certificates_20250419+deb13u1_all.deb\n" +
		"nix-bin_2.26.3+dfsg-1_amd64.deb\n" +
		"libcpuid17_0.7.1+repack1-0.2_amd64.deb\n"
	pkgs, err := parseDebList(list)
	if err != nil {
		t.Fatal(err)
	}
	c := &config{debianPkg: pkgs}
	for pkg, want := range map[string]string{
		"busybox-static":  "1.37.0",
		"ca-certificates": "20250419+deb13u1",
		"nix-bin":         "2.26.3",
		"libcpuid17":      "0.7.1",
	} {
		got, err := c.upstream(pkg)
		if err != nil || got != want {
			t.Errorf("upstream(%s) = %q, %v; want %q", pkg, got, err, want)
		}
	}
	if _, err := c.upstream("missing"); err == nil {
		t.Error("upstream of a missing package succeeded")
	}
}

func TestParseDebListRejectsJunk(t *testing.T) {
	for _, bad := range []string{"", "\n", "foo.deb\n", "a_b_c_d.deb\n", "a_1_amd64.rpm\n"} {
		if _, err := parseDebList(bad); err == nil {
			t.Errorf("parseDebList(%q) succeeded", bad)
		}
	}
}

func TestResolveInStaysInsideRoot(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/lib/x86_64-linux-gnu"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/lib64"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/lib/x86_64-linux-gnu/libz.so.1.3"), []byte("x"), 0o644))
	must(os.Symlink("libz.so.1.3", filepath.Join(root, "usr/lib/x86_64-linux-gnu/libz.so.1")))
	// An absolute target must be taken relative to the staging root, not
	// the build host, and a directory link in the middle must be followed
	// the same way.
	must(os.Symlink("/usr/lib/x86_64-linux-gnu/libz.so.1", filepath.Join(root, "usr/lib64/libz.so.1")))
	must(os.Symlink("/usr/lib", filepath.Join(root, "lib")))
	// Going above the root clamps at the root, as the kernel does for "/..".
	must(os.Symlink("../../../../usr/lib/x86_64-linux-gnu/libz.so.1", filepath.Join(root, "usr/lib64/up")))

	for _, in := range []string{
		"usr/lib/x86_64-linux-gnu/libz.so.1",
		"usr/lib64/libz.so.1",
		"lib/x86_64-linux-gnu/libz.so.1",
		"usr/lib64/up",
	} {
		got, err := resolveIn(root, in)
		if err != nil {
			t.Fatalf("resolveIn(%s): %v", in, err)
		}
		if got != "usr/lib/x86_64-linux-gnu/libz.so.1.3" {
			t.Errorf("resolveIn(%s) = %s", in, got)
		}
	}

	must(os.Symlink("loop", filepath.Join(root, "loop")))
	if _, err := resolveIn(root, "loop"); err == nil {
		t.Error("resolveIn followed a symlink loop forever")
	}
	if _, err := resolveIn(root, "usr/missing"); err == nil {
		t.Error("resolveIn of a missing file succeeded")
	}
}

// TestAppletNamesMatchList: the name table read from the binary (how an
// arm64 busybox's applets are found on an x86_64 build host) is exactly
// what the host's static busybox itself lists.
func TestAppletNamesMatchList(t *testing.T) {
	const bb = "/bin/busybox" // busybox-static, from make test-setup
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appletNames(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("name table has %d applets, --list %d:\n%v\n%v", len(got), len(want), got, want)
	}
	// A binary without the table, or with two, is an error, not a guess.
	if _, err := appletNames([]byte("no table here")); err == nil {
		t.Error("appletNames found a table in plain text")
	}
	two := []byte("x[\x00[[\x00ash\x00\x00y[\x00[[\x00sh\x00\x00")
	if _, err := appletNames(two); err == nil {
		t.Error("appletNames chose one of two tables")
	}
}
