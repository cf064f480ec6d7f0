package ptrace

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/bpf"
	"github.com/np-portable/np/internal/launch"
)

//np:kernel-set smoke
func TestProbeWorksHere(t *testing.T) {
	if err := Probe(); err != nil {
		t.Fatalf("Probe: %v (%+v)", err, Diagnose(err))
	}
	if d := Diagnose(nil); d.Cause != "" || d.Facts["kernel"] == "" {
		t.Errorf("Diagnose(nil) = %+v", d)
	}
}

// TestProbeUnderAFilterRefusingPtrace: like a container profile that
// refuses ptrace. Probe fails with a launch.SetupError and Diagnose says seccomp.
func TestProbeUnderAFilterRefusingPtrace(t *testing.T) {
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(testEnv(), helperEnv+"=deny-ptrace")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v %s", err, out)
	}
	var rep probeReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	if !rep.Setup || rep.Cause != "seccomp" || rep.Detail == "" {
		t.Errorf("probe under a filter refusing ptrace: %+v", rep)
	}
}

type probeReport struct {
	Err, Cause, Detail string
	Setup              bool
}

// denyPtraceAndProbe installs a filter refusing ptrace with EPERM, then
// re-executes the test binary to probe under it.
func denyPtraceAndProbe() int {
	runtime.LockOSThread()
	var p bpf.Program
	p.LoadNr()
	p.JumpIf(unix.SYS_PTRACE, "eperm")
	p.Return(unix.SECCOMP_RET_ALLOW)
	p.Label("eperm")
	p.Return(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	prog, err := p.Assemble()
	if err == nil {
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		err = installFilter(prog)
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	self, _ := os.Executable()
	env := append(testEnv(), helperEnv+"=probe")
	err = syscall.Exec(self, []string{self}, env)
	os.Stderr.WriteString(err.Error() + "\n")
	return 1
}

func printProbe() int {
	err := Probe()
	d := Diagnose(err)
	rep := probeReport{Cause: d.Cause, Detail: d.Detail}
	if err != nil {
		rep.Err = err.Error()
		_, rep.Setup = err.(*launch.SetupError)
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}
