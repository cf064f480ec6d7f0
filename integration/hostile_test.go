//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"np/internal/hostile"
)

func init() {
	// The test binary doubles as a launcher that builds a Docker-like host:
	// a seccomp filter refusing new user namespaces, then np.
	if os.Getenv("NP_TEST_HOSTILE") == "seccomp" {
		os.Unsetenv("NP_TEST_HOSTILE")
		err := hostile.DenyUserNamespacesAndExec(os.Args[1:], os.Environ())
		os.Stderr.WriteString("hostile launcher: " + err.Error() + "\n")
		os.Exit(2)
	}
}

// inNoUserNamespaceHost runs np inside a user namespace whose
// user.max_user_namespaces is 0, like CentOS/RHEL 7's default.
func inNoUserNamespaceHost(t *testing.T, loc string, args ...string) result {
	t.Helper()
	script := `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`
	cmd := npCmd(t, runOpts{loc: loc}, args...)
	cmd.Args = append([]string{"unshare", "--user", "--map-root-user", "sh", "-c", script, "sh", npBin}, args...)
	cmd.Path = lookPath(t, "unshare")
	return runResult(t, cmd)
}

func inSeccompHost(t *testing.T, args ...string) result {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := npCmd(t, runOpts{}, args...)
	cmd.Path = self
	cmd.Args = append([]string{self, npBin}, args...)
	cmd.Env = append(cmd.Env, "NP_TEST_HOSTILE=seccomp")
	return runResult(t, cmd)
}

func lookPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to build a hostile host: %v", name, err)
	}
	return p
}

func runResult(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("could not start %v", cmd.Args)
	}
	if cmd.ProcessState.ExitCode() == 99 {
		t.Fatalf("could not build the hostile host: %s", errb.String())
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// nsCause reads the ns runtime's cause from `np doctor --json`.
func nsCause(t *testing.T, r result) string {
	t.Helper()
	var report struct {
		Runtimes []struct{ Name, Cause, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("doctor --json printed no JSON (%v):\n%s\n%s", err, r.stdout, r.stderr)
	}
	for _, rt := range report.Runtimes {
		if rt.Name == "ns" {
			return rt.Cause
		}
	}
	t.Fatalf("doctor --json lists no ns runtime:\n%s", r.stdout)
	return ""
}

func TestDoctorNamesMaxUserNamespaces(t *testing.T) {
	r := inNoUserNamespaceHost(t, "", "doctor", "--json")
	if r.code == 0 {
		t.Fatalf("doctor exited 0 where no runtime works:\n%s", r.stdout)
	}
	if cause := nsCause(t, r); cause != "max_user_namespaces" {
		t.Fatalf("doctor gives cause %q, want max_user_namespaces:\n%s", cause, r.stdout)
	}
	text := inNoUserNamespaceHost(t, "", "doctor")
	if !strings.Contains(text.stdout, "user.max_user_namespaces is 0") {
		t.Fatalf("doctor's text does not explain the cause:\n%s", text.stdout)
	}
}

func TestRunWithoutUserNamespacesFailsWithOneLine(t *testing.T) {
	fresh := newLocation(t)
	for name, loc := range map[string]string{"installed": "", "first run": fresh} {
		r := inNoUserNamespaceHost(t, loc, "run", "true")
		if r.code != 125 || !strings.HasPrefix(r.stderr, "np: ") || !strings.Contains(r.stderr, "max_user_namespaces") {
			t.Fatalf("%s: exit %d stderr %q; want 125 and a message naming max_user_namespaces", name, r.code, r.stderr)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: message is not one line:\n%s", name, r.stderr)
		}
	}
	// Nothing was unpacked for a runtime that cannot work.
	if entries, _ := os.ReadDir(filepath.Join(fresh, ".nix-portable", "nix", "store")); len(entries) != 0 {
		t.Fatalf("a first run without a working runtime unpacked %d store paths", len(entries))
	}
}

func TestDoctorNamesSeccomp(t *testing.T) {
	r := inSeccompHost(t, "doctor", "--json")
	if r.code == 0 {
		t.Fatalf("doctor exited 0 where no runtime works:\n%s", r.stdout)
	}
	if cause := nsCause(t, r); cause != "seccomp" {
		t.Fatalf("doctor gives cause %q, want seccomp:\n%s", cause, r.stdout)
	}
	text := inSeccompHost(t, "doctor")
	if !strings.Contains(text.stdout, "a seccomp filter on") {
		t.Fatalf("doctor's text does not explain the cause:\n%s", text.stdout)
	}
}

func TestDoctorOnAGoodHost(t *testing.T) {
	r := np(t, runOpts{}, "doctor", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"auto": "ns"`) || nsCause(t, r) != "" {
		t.Fatalf("doctor --json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestRootInAUserNamespaceBuildsSandboxed is np run by root in a container
// without real privileges: uid 0, but only inside a user namespace.
func TestRootInAUserNamespaceBuildsSandboxed(t *testing.T) {
	loc := newLocation(t)
	expr := `derivation { name = "as-root"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo root-ok > $out"]; }`
	cmd := npCmd(t, runOpts{loc: loc}, "nix-build", "--no-out-link", "--option", "sandbox", "true", "-E", expr)
	cmd.Args = append([]string{"unshare", "--user", "--map-root-user", npBin}, cmd.Args[1:]...)
	cmd.Path = lookPath(t, "unshare")
	r := runResult(t, cmd)
	if r.code != 0 {
		t.Fatalf("sandboxed build as root in a user namespace: exit %d\n%s", r.code, r.stderr)
	}
	conf, _ := os.ReadFile(filepath.Join(loc, ".nix-portable", "conf", "build-sandbox.ns"))
	if !strings.HasPrefix(string(conf), "true\n") {
		t.Fatalf("the probe found no working build sandbox for root:\n%s", conf)
	}
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(strings.TrimSpace(r.stdout))))
	if err != nil || string(data) != "root-ok\n" {
		t.Fatalf("build output %q (%v)", data, err)
	}
}
