package ptrace

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

func TestExitStatusPassesThrough(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		r := traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "exit 42")
		if !r.ws.Exited() || r.ws.ExitStatus() != 42 {
			t.Errorf("exit 42: status %v", r.ws)
		}
		r = traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "kill -9 $$")
		if !r.ws.Signaled() || r.ws.Signal() != syscall.SIGKILL {
			t.Errorf("kill -9 $$: status %v, want death by SIGKILL", r.ws)
		}
		// The root's status, not the last process's.
		r = traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "(sleep 0.2; exit 3) & exit 5")
		if r.ws.ExitStatus() != 5 {
			t.Errorf("root exit 5 with a child exiting later: status %v", r.ws)
		}
	})
}

// TestForksWhileSignalsArrive: the tracer maps its scratch area in a
// process that forks, on the way out of its second fork, by running an
// mmap there. A signal pending at that moment (a child's SIGCHLD, here one
// sent again and again) must neither run its handler in the middle of it
// nor leave the area's address wrong: the later children's execs of a
// store program, whose paths go there, must work.
func TestForksWhileSignalsArrive(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, storeOps, "fork-under-signals", storeBusybox), "ok\n")
	})
}

func TestForkStormAndOrphansStayTranslated(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		r := traced(t, f.nix, ns, "/bin/busybox", "sh", "-c",
			"for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do /nix/store/pkg/bin/busybox cat /nix/hello >/dev/null & done; wait; echo done")
		expect(t, r, "done\n")
		out := t.TempDir() + "/orphan"
		// The parent exits at once; the orphan reads a /nix file later.
		traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "(sleep 0.3; cat /nix/hello > "+out+") & exit 0")
		if b, err := os.ReadFile(out); err != nil || string(b) != "hello\n" {
			t.Errorf("orphan's output %q, %v", b, err)
		}
	})
}

func TestStoppedJobStaysStoppedUntilContinued(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		// The shell stops itself; a background job continues it 300 ms later.
		start := time.Now()
		r := traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "(sleep 0.3; kill -CONT $$) & kill -STOP $$; echo resumed; wait")
		expect(t, r, "resumed\n")
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("stopped for only %v", d)
		}
	})
}

func TestNestedTracersFailCleanly(t *testing.T) {
	f := getFixture(t)
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed: apt-get install strace")
	}
	modes(t, func(t *testing.T, ns bool) {
		done := make(chan runResult, 1)
		go func() { done <- traced(t, f.nix, ns, "/usr/bin/strace", "-f", "-o", "/dev/null", "/bin/true") }()
		select {
		case r := <-done:
			if r.ws.ExitStatus() == 0 && r.errOut == "" {
				break // works
			}
			if r.errOut == "" {
				t.Errorf("strace failed without a word: %v", r.ws)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("strace under the tracer hangs")
		}
	})
}

// TestNpInsideNp runs the tracer inside itself: the inner Run cannot
// attach and says so with a launch.SetupError.
func TestNpInsideNp(t *testing.T) {
	f := getFixture(t)
	self, _ := os.Executable()
	var out, errOut strings.Builder
	env := append(testEnv(), helperEnv+"=inner-run", "NIXDIR="+f.nix)
	done := make(chan error, 1)
	go func() {
		_, err := Run(launch.Spec{NixDir: f.nix, Argv: []string{self}, Env: env, Stdout: &out, Stderr: &errOut}, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("np inside np hangs")
	}
	if !strings.Contains(out.String(), "setup error: "+stepSeize) {
		t.Errorf("inner Run: %q (stderr %q)", out.String(), errOut.String())
	}
}

func innerRun() int {
	_, err := Run(launch.Spec{NixDir: os.Getenv("NIXDIR"), Argv: []string{"/bin/true"}, Env: os.Environ()}, Options{})
	var se *launch.SetupError
	if errors.As(err, &se) {
		os.Stdout.WriteString("setup error: " + se.Step + "\n")
		return 0
	}
	os.Stdout.WriteString("inner Run: " + errString(err) + "\n")
	return 1
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestKillingTheTracerKillsTheTree: no tracee runs on untranslated.
func TestKillingTheTracerKillsTheTree(t *testing.T) {
	f := getFixture(t)
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(testEnv(), helperEnv+"=run-sleep", "NIXDIR="+f.nix)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the traced shell's pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(b), ") Z ") {
			break // a zombie: dead
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracee %d still runs after the tracer was killed", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runSleep() int {
	_, err := Run(launch.Spec{NixDir: os.Getenv("NIXDIR"), Argv: []string{"/bin/busybox", "sh", "-c", "echo $$; exec sleep 1000"}, Env: os.Environ()}, Options{})
	os.Stderr.WriteString("helper: run ended: " + errString(err) + "\n")
	return 1
}

// TestStopsSendNoSIGCHLD: a tracee's stops must not signal np (each
// SIGCHLD wakes one of its threads for nothing); only exits do.
func TestStopsSendNoSIGCHLD(t *testing.T) {
	f := getFixture(t)
	sigs := make(chan os.Signal, 1024)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	// 300 chdirs: 300 stops of the one traced process.
	r := traced(t, f.nix, false, "/bin/busybox", "sh", "-c", `i=0; while [ $i -lt 300 ]; do cd /; i=$((i+1)); done; echo done`)
	expect(t, r, "done\n")
	if lastRunStats.stops < 300 {
		t.Fatalf("%d stops: the loop was not traced", lastRunStats.stops)
	}
	if n := len(sigs); n > 20 {
		t.Errorf("np got %d SIGCHLDs during a run of %d stops; want only the exits'", n, lastRunStats.stops)
	}
}
