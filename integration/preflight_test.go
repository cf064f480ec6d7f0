//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// np doctor fails (exit 1, one line naming the cause) wherever np can see
// beforehand that the first command's install would fail, and that command
// fails with 125 and that one line, having unpacked nothing: a data dir
// that cannot be created, a path too long for np's own files, a file
// system mounted noexec, read-only or too small.
func TestDoctorFailsWhereTheFirstCommandWould(t *testing.T) {
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(readOnly, 0o755) })
	long := t.TempDir()
	for len(long) < 3936-256 {
		long = filepath.Join(long, strings.Repeat("d", 250))
	}
	long = filepath.Join(long, strings.Repeat("e", 3936-len(long)-1))

	// $1 is NP_LOCATION, $2 np; a mount, when there is one, is made in a
	// user namespace of the test's own.
	check := `NP_LOCATION="$1" "$2" doctor >"$3/doctor.out" 2>&1; echo "doctor=$?"
NP_LOCATION="$1" "$2" run true 2>"$3/run.err"; echo "rc=$?"
echo "unpacked=$(find "$1" -mindepth 1 2>/dev/null | grep -c /store/)"`
	for _, tc := range []struct {
		name, loc, mount, want string
	}{
		{"read-only home", filepath.Join(readOnly, "home"), "", "cannot create np's data dir"},
		{"read-only mount", "", "mount -t tmpfs -o ro tmpfs \"$1\"", "read-only"},
		{"path too long", long, "", "path is too long"},
		{"noexec", "", "mount -t tmpfs -o noexec tmpfs \"$1\"", "noexec"},
		{"no space", "", "mount -t tmpfs -o size=24m tmpfs \"$1\"", "not enough space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			loc := tc.loc
			var cmd *exec.Cmd
			if tc.mount != "" {
				loc = t.TempDir()
				cmd = exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", tc.mount+" || exit 99\n"+check, "sh", loc, npBin, out)
			} else {
				cmd = exec.Command("sh", "-c", check, "sh", loc, npBin, out)
			}
			cmd.Env = cleanEnv()
			res, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, res)
			}
			doctor, _ := os.ReadFile(filepath.Join(out, "doctor.out"))
			runErr, _ := os.ReadFile(filepath.Join(out, "run.err"))
			s := string(res)
			if !strings.Contains(s, "doctor=1") || !strings.Contains(string(doctor), tc.want) || !strings.Contains(string(doctor), "unusable") {
				t.Errorf("np doctor (%s): %s\n%s\nwant exit 1 saying %q", tc.name, s, doctor, tc.want)
			}
			if n := strings.Count(string(doctor), "\nwarning:"); n != 1 {
				t.Errorf("np doctor (%s) gives %d warnings, want one line:\n%s", tc.name, n, doctor)
			}
			lines := strings.Split(strings.TrimSpace(string(runErr)), "\n")
			if !strings.Contains(s, "rc=125") || len(lines) != 1 || !strings.Contains(lines[0], "NP_LOCATION") {
				t.Errorf("np run true (%s): %s\nstderr:\n%s\nwant 125 and one line naming NP_LOCATION", tc.name, s, runErr)
			}
			if !strings.Contains(s, "unpacked=0") {
				t.Errorf("np run true (%s) unpacked store paths before failing: %s", tc.name, s)
			}
		})
	}
}
