package nsbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// probeIn runs the test binary in helper mode with the given clone
// attributes and returns the helper's probe report.
func probeIn(t *testing.T, mode string, attr *syscall.SysProcAttr) probeReport {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(withoutVar(os.Environ(), helperEnv), helperEnv+"="+mode)
	cmd.SysProcAttr = attr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, stderr.String())
	}
	var r probeReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("helper %s printed %q: %v", mode, out, err)
	}
	return r
}

func TestDiagnoseSaysMaxUserNamespacesWhenTheLimitIsZero(t *testing.T) {
	// As root of a user namespace of our own (like unshare -U -r), set
	// user.max_user_namespaces to 0 there: creating a nested one is ENOSPC.
	r := probeIn(t, "max-userns", &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	})
	if syscall.Errno(r.Errno) != syscall.ENOSPC {
		t.Errorf("probe error %q (errno %d), want ENOSPC", r.Err, r.Errno)
	}
	if r.Cause != "max_user_namespaces" || !strings.Contains(r.Detail, "user.max_user_namespaces is 0") {
		t.Errorf("diagnosis %q: %s", r.Cause, r.Detail)
	}
	if r.Facts["user.max_user_namespaces"] != "0" {
		t.Errorf("facts: %v", r.Facts)
	}
}

func TestDiagnoseSaysSeccompUnderADockerLikeFilter(t *testing.T) {
	r := probeIn(t, "seccomp", nil)
	if syscall.Errno(r.Errno) != syscall.EPERM {
		t.Errorf("probe error %q (errno %d), want EPERM", r.Err, r.Errno)
	}
	if !strings.HasPrefix(r.Err, stepCreate+":") {
		t.Errorf("probe error %q does not name the step %q", r.Err, stepCreate)
	}
	if r.Cause != "seccomp" || r.Facts["seccomp"] != "2" {
		t.Errorf("diagnosis %q: %s (facts %v)", r.Cause, r.Detail, r.Facts)
	}
}

func TestDiagnoseSaysNothingWhereTheSandboxWorks(t *testing.T) {
	r := probeIn(t, "probe", nil)
	if r.Err != "" || r.Cause != "" {
		t.Errorf("probe %q, diagnosis %q: %s", r.Err, r.Cause, r.Detail)
	}
}
