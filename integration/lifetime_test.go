//go:build integration

package integration

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/np-portable/np/internal/proc"
)

// processGone reports whether pid no longer runs (gone or a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// After kill -9 of np, nothing the program started keeps running: not the
// program, not a child it put in the background.
func TestKillNineOfNpLeavesNoProcessOfTheProgram(t *testing.T) {
	cmd := npCmd(t, runOpts{}, "run", "sh", "-c", `sleep 1000 & echo $!; echo $$; exec sleep 1001`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	var pids []int
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the program's pids: %v", err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(line))
		pids = append(pids, pid)
	}
	cmd.Process.Kill()
	waitBounded(t, cmd, time.Minute)
	deadline := time.Now().Add(bound(5 * time.Second))
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d of the program's tree outlived np killed with SIGKILL", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// pid1 runs np as PID 1 of a new PID namespace (a container's entrypoint),
// with its own /proc, as root of a user namespace.
func pid1(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("unshare", append([]string{"--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "--kill-child", npBin}, args...)...)
	cmd.Env = append(cleanEnv(), "NP_LOCATION="+sharedLocation(t))
	ownGroup(t, cmd)
	return cmd
}

func TestNpAsPID1ReapsOrphans(t *testing.T) {
	// The subshell's sleep is orphaned at once and ends after 0.2 s; by
	// then nobody but PID 1 (or a reaper below it) can wait for it.
	script := `(sleep 0.2 &); sleep 1; grep -l ') Z ' /proc/[0-9]*/stat | wc -l`
	out, err := pid1(t, "run", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("np as PID 1: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "0" {
		t.Fatalf("zombies in the container after an orphan ended: %s", got)
	}
}

func TestNpAsPID1PassesExitStatusAndForwardsSignals(t *testing.T) {
	if err := pid1(t, "run", "sh", "-c", "exit 42").Run(); err == nil || err.(*exec.ExitError).ExitCode() != 42 {
		t.Fatalf("np as PID 1 running exit 42: %v", err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		cmd := pid1(t, "run", "sh", "-c", `trap 'exit 7' TERM INT HUP; echo ready; while :; do sleep 0.05; done`)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("program did not start: %q %v", line, err)
		}
		// unshare's child is np, PID 1 inside.
		// (By /proc/PID/stat: kernels built without CONFIG_PROC_CHILDREN,
		// 4.4.178's, have no children lists.)
		kids := proc.ChildrenByScan(cmd.Process.Pid)
		if len(kids) != 1 {
			t.Fatalf("finding np under unshare: its children are %v", kids)
		}
		np1 := kids[0]
		syscall.Kill(np1, sig)
		err := waitBounded(t, cmd, time.Minute)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Errorf("%v to np as PID 1: %v, want the program's trap to exit 7", sig, err)
		}
	}
}
