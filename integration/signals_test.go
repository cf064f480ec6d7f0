//go:build integration

// Signals, exit statuses and open descriptors across np: what a careless
// start (nohup, a background job, umask 077, no terminal) must not change.
// integration/robust.sh and the kernels' signal steps run every test of
// this file, lifetime_test.go, terminal_test.go and interrupt_test.go
// (testsum -pattern), so a test belongs here, not a name list.

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDeathBySignalIsReraised(t *testing.T) {
	r := np(t, runOpts{}, "run", "sh", "-c", "kill -TERM $$")
	if r.signal != syscall.SIGTERM {
		t.Fatalf("caller saw exit %d signal %v, want death by SIGTERM", r.code, r.signal)
	}
}

func TestKillNineOfNpLeavesNoSandboxedProcess(t *testing.T) {
	marker := "4242." + strconv.Itoa(os.Getpid()) // unique: other test runs may share the machine
	cmd := npCmd(t, runOpts{}, "run", "sleep", marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The whole command line, so np's own ("np run sleep ...") does not count.
	found := func() bool { return len(processesRunning(t, "sleep", marker)) > 0 }
	waitFor(t, "the sandboxed sleep to start", 10*time.Second, found)
	cmd.Process.Kill()
	waitBounded(t, cmd, time.Minute)
	waitFor(t, "the sandboxed sleep to die with np", 5*time.Second, func() bool { return !found() })
}

func TestSignalsSentToNpReachTheProgram(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2} {
		t.Run(sig.String(), func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			script := `trap 'echo got; exit 7' ` + strconv.Itoa(int(sig)) + `; touch ` + ready + `; while :; do sleep 0.05; done`
			cmd := npCmd(t, runOpts{}, "run", "sh", "-c", script)
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the program to be ready", 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil })
			cmd.Process.Signal(sig)
			waitBounded(t, cmd, time.Minute)
			if code := cmd.ProcessState.ExitCode(); code != 7 || strings.TrimSpace(out.String()) != "got" {
				t.Fatalf("after %v: exit %d output %q; want the program's trap to run and exit 7", sig, code, out.String())
			}
		})
	}
}

func TestFDsTheCallerPassesReachTheProgram(t *testing.T) {
	f := filepath.Join(t.TempDir(), "five")
	os.WriteFile(f, []byte("through fd 5\n"), 0o644)
	for name, args := range map[string][]string{
		"ns":     {"run", "sh", "-c", "cat <&5"},
		"native": append(nestedNp(), "run", "sh", "-c", "cat <&5"),
	} {
		t.Run(name, func(t *testing.T) {
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			cmd := npCmd(t, runOpts{}, args...)
			cmd.ExtraFiles = []*os.File{nil, nil, in} // fd 5
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "through fd 5\n" {
				t.Fatalf("cat <&5 inside np: %q (%v)", out, err)
			}
		})
	}
}

func TestReraisedCrashSignalLeavesNoCoreOfNp(t *testing.T) {
	dir := t.TempDir()
	// The program allows itself no core; np inherits an unlimited limit.
	cmd := exec.Command("sh", "-c", `ulimit -c unlimited && exec "$0" run sh -c 'ulimit -c 0; kill -SEGV $$'`, npBin)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "NP_LOCATION="+sharedLocation(t))
	cmd.Run()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGSEGV {
		t.Fatalf("np ended with %v, want death by SIGSEGV like the program", ws)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "core") {
			t.Fatalf("np dumped a core of its own: %s", e.Name())
		}
	}
}

func TestKillNineInsideIsDeathBySIGKILL(t *testing.T) {
	r := sh(t, runOpts{}, "kill -9 $$")
	if r.signal != syscall.SIGKILL {
		t.Fatalf("caller saw exit %d signal %v, want death by SIGKILL", r.code, r.signal)
	}
	if r := sh(t, runOpts{}, "exit 42"); r.code != 42 {
		t.Fatalf("exit 42 gave exit %d signal %v", r.code, r.signal)
	}
}

func TestKillingNpEndsTheProgramsTree(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	marker := "4343." + strconv.Itoa(os.Getpid())
	cmd := npCmd(t, runOpts{}, "run", busybox(t), "sh", "-c", `"$0" "$1" & "$0" "$1"; wait`, sleep, marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sleeps := func() []int { return processesRunning(t, sleep, marker) }
	t.Cleanup(func() {
		for _, pid := range sleeps() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	waitFor(t, "both sleeps to start", 10*time.Second, func() bool { return len(sleeps()) == 2 })
	cmd.Process.Kill()
	waitBounded(t, cmd, time.Minute)
	// Under ptrace every tracee dies with the tracer (PTRACE_O_EXITKILL);
	// under ns the sandbox init, reaper of the program's tree, notices np's
	// death and ends the tree (README: "Nothing outlives np").
	waitFor(t, "the program's sleeps to end with np", 5*time.Second, func() bool { return len(sleeps()) == 0 })
}

// processesRunning returns the pids of the processes whose command line
// is exactly argv, as /proc shows it to every user. It reads /proc rather
// than running pgrep: the kernels' VMs have busybox alone, whose Debian
// build has no pgrep, and a pgrep that could not run looked the same as
// one that found nothing (both tests above failed so on every VM kernel).
func processesRunning(t *testing.T, argv ...string) []int {
	t.Helper()
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("listing the processes: %v", err)
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		// A process that ended since the listing has no command line.
		if b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline"); err == nil && bytes.Equal(b, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestTracerInsideEndsCleanly(t *testing.T) {
	// strace inside np: works, or fails with a message; never hangs.
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("this test needs strace: %v", err)
	}
	file, content := nixFile(t)
	cmd := npCmd(t, runOpts{}, "run", strace, "-f", "-o", "/dev/null", busybox(t), "cat", file)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hung := time.AfterFunc(bound(60*time.Second), func() { cmd.Process.Kill() })
	cmd.Wait()
	if !hung.Stop() {
		t.Fatal("strace inside np hung for a minute")
	}
	code := cmd.ProcessState.ExitCode()
	if pass == "ns" && (code != 0 || out.String() != content) {
		t.Fatalf("strace inside the ns runtime: exit %d, output %q", code, out.String())
	}
	if code != 0 && code != 1 {
		t.Fatalf("strace inside np: exit %d; want success or a clean failure", code)
	}
}
