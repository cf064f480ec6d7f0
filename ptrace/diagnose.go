package ptrace

import (
	"errors"
	"os"
	"strings"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

// Diagnosis explains a Probe or Run error. Cause is one word for scripts:
// "ptrace_scope" (Yama forbids ptrace), "seccomp" (a seccomp filter
// refuses ptrace or process_vm_*), "no_ptrace" (ptrace refused for another
// reason), "unknown". Detail is a sentence naming the fix; Facts are what
// Diagnose read (the kernel version only as a fact, never to decide).
type Diagnosis struct {
	Cause, Detail string
	Facts         map[string]string
}

// Diagnose explains err (nil: tracing works).
func Diagnose(err error) Diagnosis {
	facts := map[string]string{}
	scope := readTrim("/proc/sys/kernel/yama/ptrace_scope")
	if scope != "" {
		facts["yama.ptrace_scope"] = scope
	}
	if status, rerr := os.ReadFile("/proc/self/status"); rerr == nil {
		for _, l := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && (k == "Seccomp" || k == "Seccomp_filters" || k == "NoNewPrivs") {
				facts[k] = strings.TrimSpace(v)
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		facts["kernel"] = unix.ByteSliceToString(u.Release[:])
	}
	calls := hostCallsHere()
	calls.ownFS = probeOwnFS()
	facts["ptrace.host_calls"] = calls.String()
	d := Diagnosis{Facts: facts}
	if err == nil {
		d.Cause, d.Detail = "", "ptrace works here"
		return d
	}
	var se *launch.SetupError
	seize := errors.As(err, &se) && se.Step == stepSeize
	switch {
	case seize && scope == "3":
		d.Cause = "ptrace_scope"
		d.Detail = "Yama's ptrace_scope is 3, which forbids ptrace for everyone until reboot; the ns runtime or a host with kernel.yama.ptrace_scope <= 2 is needed"
	case seize && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS)) && facts["Seccomp"] == "2":
		d.Cause = "seccomp"
		d.Detail = "a seccomp filter (a container's profile) refuses ptrace; run the container with --cap-add SYS_PTRACE or a profile allowing ptrace (Docker allows it by default only on Linux >= 4.8)"
	case seize:
		d.Cause = "no_ptrace"
		d.Detail = "the kernel refuses ptrace here (already traced, or a security module forbids it); run np outside the debugger/tracer or use the ns runtime"
	default:
		d.Cause = "unknown"
		d.Detail = "the traced program could not be started: " + err.Error()
	}
	return d
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
