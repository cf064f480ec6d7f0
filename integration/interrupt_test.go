//go:build integration

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// findProcess returns the pid of a process whose command line contains
// marker, or 0.
func findProcess(marker string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid := 0
		for _, c := range d.Name() {
			if c < '0' || c > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid <= 0 {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return pid
		}
	}
	return 0
}

// A signal during the first run's build-sandbox probe ends np by that
// signal and records nothing: the interrupted probe is not a result.
func TestSignalDuringFirstRunProbeEndsNpAndRecordsNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		loc := newLocation(t)
		cmd := npCmd(t, runOpts{loc: loc}, "run", "sh", "-c", "echo program ran")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the build-sandbox probe to start", 60*time.Second, func() bool { return findProcess("np-build-probe") != 0 })
		cmd.Process.Signal(sig)
		cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !(ws.Signaled() && ws.Signal() == sig) && ws.ExitStatus() != 125 {
			t.Errorf("%v during the probe: np ended with %v (stderr %q), want death by %v or 125", sig, ws, errb.String(), sig)
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
