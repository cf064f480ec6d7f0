package bundle

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/np-portable/np/extract"
)

func TestParsePathInfo(t *testing.T) {
	// As Nix 2.26 prints it; busybox's hash in hex is what mkpayload computed
	// for the same path.
	data := `{"/nix/store/90val9g4jw1dcv9fkfc50l6rcrvi5qhm-busybox-1.37.0":{"ca":null,"deriver":null,"narHash":"sha256-MThfgiNKgK7q9IGBHeaUenUEeTFMtgHad6DKt5Vr85g=","narSize":2077240,"references":[],"signatures":[],"ultimate":false},` +
		`"/nix/store/kq3gca0rp74yxlxm8bdx25682i6y2ayn-shout-1":{"narHash":"sha256-dWKHJ7EKDGHkPwBKs/CIl6bMklQCYXCV2apO/8R99Bs=","narSize":624,"references":["/nix/store/kq3gca0rp74yxlxm8bdx25682i6y2ayn-shout-1","/nix/store/90val9g4jw1dcv9fkfc50l6rcrvi5qhm-busybox-1.37.0"]}}`
	paths, err := parsePathInfo([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0].Path != "/nix/store/90val9g4jw1dcv9fkfc50l6rcrvi5qhm-busybox-1.37.0" {
		t.Fatalf("paths not sorted: %+v", paths)
	}
	if paths[0].NarHash != "31385f82234a80aeeaf481811de6947a750479314cb601da77a0cab7956bf398" || paths[0].NarSize != 2077240 {
		t.Fatalf("busybox: %+v", paths[0])
	}
	if !slices.IsSorted(paths[1].References) || len(paths[1].References) != 2 {
		t.Fatalf("references: %v", paths[1].References)
	}
	for _, bad := range []string{`[]`, `{}`, `{"/nix/store/x":null}`, `{"/nix/store/x":{"narHash":"md5-AAAA"}}`} {
		if _, err := parsePathInfo([]byte(bad)); err == nil {
			t.Errorf("parsePathInfo(%s) succeeded", bad)
		}
	}
}

func TestNarHashHex(t *testing.T) {
	hexSum := strings.Repeat("ab", 32)
	if got, err := narHashHex("sha256:" + strings.ToUpper(hexSum)); err != nil || got != hexSum {
		t.Fatalf("sha256:hex gave %q %v", got, err)
	}
	for _, bad := range []string{"", "sha256-", "sha256-AAAA", "sha512-" + strings.Repeat("A", 88), "sha256:xyz"} {
		if _, err := narHashHex(bad); err == nil {
			t.Errorf("narHashHex(%q) succeeded", bad)
		}
	}
}

func TestProgramsOf(t *testing.T) {
	store := t.TempDir()
	out := "/nix/store/gggggggggggggggggggggggggggggggg-greet-1"
	dep := "/nix/store/ssssssssssssssssssssssssssssssss-shout-1"
	mk := func(p, rel string, mode os.FileMode) string {
		f := filepath.Join(store, filepath.Base(p), rel)
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte("x"), mode)
		return f
	}
	mk(out, "bin/greet", 0o755)
	mk(out, "bin/data", 0o644) // not executable
	mk(dep, "bin/shout", 0o755)
	os.MkdirAll(filepath.Join(store, filepath.Base(out), "bin", "subdir"), 0o755)
	// An absolute link resolves inside the store, not on the host.
	os.Symlink(dep+"/bin/shout", filepath.Join(store, filepath.Base(out), "bin", "loud"))
	os.Symlink("/bin/sh", filepath.Join(store, filepath.Base(out), "bin", "hostsh"))
	os.Symlink("loop", filepath.Join(store, filepath.Base(out), "bin", "loop"))
	closure := []extract.PathEntry{{Path: out}, {Path: dep}}
	got := programsOf(store, []string{out}, closure)
	want := []string{out + "/bin/greet", out + "/bin/loud", dep + "/bin/shout"}
	if !slices.Equal(got, want) {
		t.Fatalf("programs %q, want %q", got, want)
	}
}
