package systable

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNumbersAreXSysUnix checks every system call number np has, of both
// architectures, against golang.org/x/sys/unix's own table (the version
// go.mod requires): a number edited by hand, or a generated file left
// behind by an update of x/sys, fails here.
func TestNumbersAreXSysUnix(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Fatalf("finding golang.org/x/sys (go list -m): %v", err)
	}
	constLine := regexp.MustCompile(`(?m)^\s*SYS_([A-Z0-9_]+)\s*=\s*([0-9]+)\s*$`)
	for goarch, a := range map[string]*Arch{"amd64": &X86_64, "arm64": &AArch64} {
		src := filepath.Join(strings.TrimSpace(string(dir)), "unix", "zsysnum_linux_"+goarch+".go")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, m := range constLine.FindAllStringSubmatch(string(b), -1) {
			want[strings.ToLower(m[1])], _ = strconv.Atoi(m[2])
		}
		if len(want) < 200 || len(want) != len(a.Syscalls) {
			t.Errorf("%s: x/sys/unix has %d calls, np's table %d", a.Name, len(want), len(a.Syscalls))
		}
		for name, nr := range want {
			if got, ok := a.Syscalls[name]; !ok || got != nr {
				t.Errorf("%s: %s is %d in x/sys/unix, %d (present: %v) in np's", a.Name, name, nr, got, ok)
			}
		}
		for name, nr := range a.Numbers {
			if want[name] != nr {
				t.Errorf("%s: the table's %s is %d, x/sys/unix's %d", a.Name, name, nr, want[name])
			}
		}
		for name := range a.Absent {
			if _, ok := want[name]; ok {
				t.Errorf("%s: %s is listed as absent but x/sys/unix has it", a.Name, name)
			}
		}
	}
}
