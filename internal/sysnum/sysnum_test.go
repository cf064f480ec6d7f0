package sysnum

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
// go.mod requires): a number edited by hand, or a file left behind by an
// update of x/sys (run go generate), fails here.
func TestNumbersAreXSysUnix(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Fatalf("finding golang.org/x/sys (go list -m): %v", err)
	}
	constLine := regexp.MustCompile(`(?m)^\s*SYS_([A-Z0-9_]+)\s*=\s*([0-9]+)\s*$`)
	for goarch, have := range map[string]map[string]int{"amd64": X86_64(), "arm64": AArch64()} {
		src := filepath.Join(strings.TrimSpace(string(dir)), "unix", "zsysnum_linux_"+goarch+".go")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, m := range constLine.FindAllStringSubmatch(string(b), -1) {
			want[strings.ToLower(m[1])], _ = strconv.Atoi(m[2])
		}
		if len(want) < 200 || len(want) != len(have) {
			t.Errorf("%s: x/sys/unix has %d calls, np %d", goarch, len(want), len(have))
		}
		for name, nr := range want {
			if got, ok := have[name]; !ok || got != nr {
				t.Errorf("%s: %s is %d in x/sys/unix, %d (present: %v) in np's", goarch, name, nr, got, ok)
			}
		}
	}
}
