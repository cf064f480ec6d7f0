//go:build integration

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

// findDescendant returns the pid of a descendant of root whose command
// line contains marker, or 0. Descendants only: other test runs sharing the
// machine (and the user) start the same helpers.
func findDescendant(root int, marker string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == root {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) && descends(pid, root) {
			return pid
		}
	}
	return 0
}

// descends reports whether pid is a descendant of root.
func descends(pid, root int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 {
			return false
		}
		if pid, _ = strconv.Atoi(f[1]); pid == root {
			return true
		}
	}
	return false
}

// startFirstRun starts np's first run in o.loc, whose program says
// "program ran" if it ever starts, with its output collected.
func startFirstRun(t *testing.T, o runOpts) (cmd *exec.Cmd, out, errb *bytes.Buffer) {
	t.Helper()
	cmd = npCmd(t, o, "run", "sh", "-c", "echo program ran")
	out, errb = new(bytes.Buffer), new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out, errb
}

// A signal during the first run's build-sandbox probe ends np by that
// signal and records nothing: the interrupted probe is not a result.
func TestSignalDuringFirstRunProbeEndsNpAndRecordsNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		loc := newLocation(t)
		cmd, out, errb := startFirstRun(t, runOpts{loc: loc})
		waitFor(t, "the build-sandbox probe to start", 60*time.Second, func() bool { return findDescendant(cmd.Process.Pid, "np-build-probe") != 0 })
		cmd.Process.Signal(sig)
		waitBounded(t, cmd, 2*time.Minute)
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !(ws.Signaled() && ws.Signal() == sig) || !strings.Contains(errb.String(), "interrupted by "+sig.String()) {
			t.Errorf("%v during the probe: np ended with %v (stderr %q), want death by %v with a line saying so", sig, ws, errb.String(), sig)
		}
		if strings.Contains(out.String(), "program ran") {
			t.Errorf("%v during the probe: np went on to run the program", sig)
		}
		if len(installRecords(loc)) != 0 {
			t.Errorf("%v during the probe: the install was recorded as complete", sig)
		}
		// The next run installs again and probes for real.
		if got := must(t, np(t, runOpts{loc: loc}, "run", "sh", "-c", "echo program ran")); got != "program ran\n" {
			t.Errorf("run after the interrupted install: %q", got)
		}
		conf, _ := os.ReadFile(filepath.Join(loc, ".nix-portable/conf/build-sandbox.ns"))
		if !bytes.HasPrefix(conf, []byte("true\n")) {
			t.Errorf("after %v during the probe, the next install's probe record says:\n%s", sig, conf)
		}
	}
}

// A signal during any step of the first run's install ends np by that
// signal, with one line naming the step, and leaves no install recorded
// (nor staging behind). np pauses at the step until a signal arrives
// (NP_TEST_PAUSE_AT, see package interrupt) so it lands there exactly: ^C goes to np's
// whole process group, as a terminal sends it; SIGTERM to np alone, as a
// service manager's kill does.
func TestSignalDuringEachFirstRunStepEndsNpBySignal(t *testing.T) {
	for _, tc := range []struct {
		step  string
		sig   syscall.Signal
		group bool
	}{
		{"choosing a runtime", syscall.SIGINT, true},
		{"checking Nix's checksum", syscall.SIGINT, true},
		{"unpacking Nix", syscall.SIGINT, true},
		{"unpacking Nix", syscall.SIGTERM, false},
		{"moving Nix into the store", syscall.SIGINT, true},
		{"registering np's store paths", syscall.SIGINT, true},
		{"signing np's store paths", syscall.SIGINT, true},
		{"signing np's store paths", syscall.SIGHUP, false},
		{"probing Nix's build sandbox", syscall.SIGINT, true},
	} {
		t.Run(tc.step+"/"+tc.sig.String(), func(t *testing.T) {
			loc := newLocation(t)
			pause := filepath.Join(t.TempDir(), "paused")
			// np leads a process group of its own (ownGroup in npCmd).
			cmd, out, errb := startFirstRun(t, runOpts{loc: loc, env: []string{"NP_TEST_PAUSE_AT=" + tc.step + ":" + pause}})
			done := make(chan struct{})
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nothing outlives the test
				<-done
			}()
			go func() { cmd.Wait(); close(done) }()
			ended := func() bool {
				select {
				case <-done:
					return true
				default:
					return false
				}
			}
			waitFor(t, "np to pause at "+tc.step, 60*time.Second, func() bool { _, err := os.Stat(pause); return err == nil || ended() })
			if ended() {
				t.Fatalf("np ended (%v) without pausing at %s; stderr %q", cmd.ProcessState, tc.step, errb.String())
			}
			target := cmd.Process.Pid
			if tc.group {
				target = -target
			}
			// np stops pausing when the signal reaches it.
			syscall.Kill(target, tc.sig)
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("np did not end within 60 s of %v at %s", tc.sig, tc.step)
			}
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			if !ws.Signaled() || ws.Signal() != tc.sig {
				t.Errorf("%v at %s: np ended with %v (stderr %q), want death by %v", tc.sig, tc.step, ws, errb.String(), tc.sig)
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "interrupted by "+tc.sig.String()+" while "+tc.step) {
				t.Errorf("%v at %s: stderr %q, want one line naming the signal and the step", tc.sig, tc.step, errb.String())
			}
			if strings.Contains(out.String(), "program ran") {
				t.Errorf("%v at %s: np went on to run the program", tc.sig, tc.step)
			}
			if recs := installRecords(loc); len(recs) != 0 {
				t.Errorf("%v at %s: the install was recorded as complete: %v", tc.sig, tc.step, recs)
			}
			if staged, _ := os.ReadDir(filepath.Join(loc, ".nix-portable/nix/var/np/tmp")); len(staged) != 0 {
				t.Errorf("%v at %s: staging left behind: %v", tc.sig, tc.step, staged)
			}
			if tc.step == "signing np's store paths" && tc.sig == syscall.SIGINT {
				if got := must(t, np(t, runOpts{loc: loc}, "run", "sh", "-c", "echo program ran")); got != "program ran\n" {
					t.Errorf("run after the interrupted install: %q", got)
				}
			}
		})
	}
}

// ^C while nix signs np's store paths reaches nix too (np's whole group,
// as a terminal sends it): nix dies of it, and that is no signing failure
// (np used to exit 125 "nix killed by interrupt"): np ends by SIGINT with
// its one line. The signal must land while nix runs, so the test polls for
// it (its key file names it) and retries if the step was over first.
func TestCtrlCWhileNixSignsEndsNpBySigint(t *testing.T) {
	ctrlCWhen(t, "signing np's store paths", func(np int, loc string) bool {
		return findDescendant(np, "np-install.sec") != 0
	})
}

// ^C while np unpacks its Nix (np used to die of it without a word).
func TestCtrlCWhileUnpackingEndsNpBySigintWithALine(t *testing.T) {
	ctrlCWhen(t, "unpacking Nix", func(np int, loc string) bool {
		staged, _ := filepath.Glob(filepath.Join(loc, ".nix-portable/nix/var/np/tmp/install-*/store/*"))
		return len(staged) > 0
	})
}

// ctrlCWhen starts a first run, sends ^C to np's group as soon as cond
// holds (polled every millisecond), and checks that np died of SIGINT with
// one line naming step, recording nothing. A run that ends before cond
// held is tried again, up to five times.
func ctrlCWhen(t *testing.T, step string, cond func(np int, loc string) bool) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		loc := newLocation(t)
		cmd, out, errb := startFirstRun(t, runOpts{loc: loc})
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		hit := false
		for deadline := time.Now().Add(2 * time.Minute); !hit && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			select {
			case <-done:
				deadline = time.Now() // the step ended before cond held
			default:
			}
			if cond(cmd.Process.Pid, loc) {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
				hit = true
			}
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("np did not end within a minute of ^C")
		}
		if !hit {
			if attempt < 5 {
				continue
			}
			t.Fatalf("in %d attempts np was done %s before the test could signal it", attempt, step)
		}
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGINT || strings.Count(errb.String(), "\n") != 1 ||
			!strings.Contains(errb.String(), "interrupted by interrupt while "+step) {
			t.Errorf("^C while %s: np ended with %v, stderr %q; want death by SIGINT and one line naming the step", step, ws, errb.String())
		}
		if strings.Contains(out.String(), "program ran") || len(installRecords(loc)) != 0 {
			t.Errorf("^C while %s: the program ran (%q) or the install was recorded (%v)", step, out.String(), installRecords(loc))
		}
		return
	}
}
