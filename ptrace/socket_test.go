package ptrace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnixSocketsUnderNix(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		name := "/nix/dir/s" + map[bool]string{false: "1", true: "2"}[ns] + ".sock"
		expect(t, traced(t, f.nix, ns, f.hostOps, "sock", name), name+"\n")
		if fi, err := os.Lstat(f.nix + name[len("/nix"):]); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("socket in the data dir: %v %v", fi, err)
		}
		os.Remove(f.nix + name[len("/nix"):])
		dgram := "/nix/dir/d" + map[bool]string{false: "1", true: "2"}[ns] + ".sock"
		expect(t, traced(t, f.nix, ns, f.hostOps, "dgram", dgram), "dgram ok\n")
		os.Remove(f.nix + dgram[len("/nix"):])
	})
}

// TestUnixSocketsWithALongDataDir: the host path does not fit in
// sun_path, the guest path does.
func TestUnixSocketsWithALongDataDir(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.MkdirAll(long+"/var", 0o755); err != nil {
		t.Fatal(err)
	}
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, long, ns, f.hostOps, "sock", "/nix/var/x.sock"), "/nix/var/x.sock\n")
		if fi, err := os.Lstat(long + "/var/x.sock"); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("socket in the data dir: %v %v", fi, err)
		}
		os.Remove(long + "/var/x.sock")
	})
}
