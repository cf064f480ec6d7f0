package ptrace

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/np-portable/np/internal/hostile"
	"github.com/np-portable/np/internal/launch"
)

// TestMain runs the tests as whoever started it: make unit
// (integration/unit.sh) starts it as the unprivileged user nptest, since
// the tracer must work without privileges and root would hide permission
// errors.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	if code, again := hostileTestHost(); again {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Environment knobs that run the whole suite on the fallbacks of
// hostcalls.go:
//
//	NP_PTRACE_TEST_REFUSE=no-unshare,no-process-vm,...  hostile.Filters to run under
//	NP_PTRACE_TEST_MEM=file|peek                         tracee memory without process_vm
//	NP_PTRACE_TEST_SERVERS=2                             notification servers (Linux < 6.6 runs 2)
const (
	refuseEnv  = "NP_PTRACE_TEST_REFUSE"
	refusedEnv = "NP_PTRACE_TEST_REFUSED" // set once the filters are installed
)

// hostileTestHost applies the knobs; again: the binary re-executed
// itself under the filters and this is its exit code.
func hostileTestHost() (code int, again bool) {
	if names := os.Getenv(refuseEnv); names != "" && os.Getenv(refusedEnv) == "" {
		self, err := os.Executable()
		if err == nil {
			err = hostile.ExecUnderFilters(strings.Split(names, ","), append([]string{self}, os.Args[1:]...),
				append(os.Environ(), refusedEnv+"=1"))
		}
		fmt.Fprintf(os.Stderr, "running the tests under %s: %v\n", names, err)
		return 1, true
	}
	switch m := os.Getenv("NP_PTRACE_TEST_MEM"); m {
	case "":
	case "file", "peek":
		h := probeHostCalls()
		h.vmRW = false
		if m == "peek" {
			h.procMem = false
		}
		hostForTests = &h
	default:
		fmt.Fprintf(os.Stderr, "NP_PTRACE_TEST_MEM=%q: want file or peek\n", m)
		return 2, true
	}
	if n := os.Getenv("NP_PTRACE_TEST_SERVERS"); n != "" {
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 {
			fmt.Fprintf(os.Stderr, "NP_PTRACE_TEST_SERVERS=%q: want a number >= 1\n", n)
			return 2, true
		}
		serversForTests = k
	}
	return 0, false
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// helperEnv selects a helper mode of the test binary.
const helperEnv = "NP_PTRACE_TEST_HELPER"

func runHelper(mode string) int {
	switch mode {
	case "inner-run":
		return innerRun()
	case "run-sleep":
		return runSleep()
	case "trap-term":
		return trapTerm()
	case "deny-ptrace":
		return denyPtraceAndProbe()
	case "probe":
		return printProbe()
	case "go-stress":
		return goStress()
	case "landlocked":
		return landlocked(os.Args[1:])
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// runResult is what a traced run printed and how it ended.
type runResult struct {
	out, errOut string
	ws          syscall.WaitStatus
}

// traced runs argv under the tracer with nixDir at /nix.
func traced(t *testing.T, nixDir string, noSeccomp bool, argv ...string) runResult {
	t.Helper()
	var out, errOut strings.Builder
	ws, err := Run(launch.Spec{NixDir: nixDir, Argv: argv, Env: testEnv(), Stdout: &out, Stderr: &errOut}, Options{NoSeccomp: noSeccomp, NoNotify: noNotifyForTests})
	if err != nil {
		t.Fatalf("Run %q: %v\nstderr: %s", argv, err, errOut.String())
	}
	return runResult{out.String(), errOut.String(), ws}
}

func testEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "HOME=" + os.Getenv("HOME"), "LC_ALL=C"}
}
