package proc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const forwardEachEnv = "PROC_TEST_FORWARD_EACH"

// TestForwardEach: during a run SIGTERM to np reaches the named child;
// after the run's stop the same signal ends np by its default action.
func TestForwardEach(t *testing.T) {
	if os.Getenv(forwardEachEnv) != "" {
		forwardEachHelper()
		return
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^TestForwardEach$")
	cmd.Env = append(os.Environ(), forwardEachEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rd := bufio.NewReader(out)
	expectLine := func(want string) {
		t.Helper()
		if l, err := rd.ReadString('\n'); err != nil || l != want {
			t.Fatalf("helper said %q (%v), want %q", l, err, want)
		}
	}
	expectLine("running\n")
	cmd.Process.Signal(unix.SIGTERM)
	expectLine("child: signal: terminated\n")
	expectLine("stopped\n")
	cmd.Process.Signal(unix.SIGTERM)
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != unix.SIGTERM {
		t.Fatalf("after the run, SIGTERM left np with %v (%v), want death by SIGTERM", cmd.ProcessState, err)
	}
}

func forwardEachHelper() {
	to, stop := ForwardEach()
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	to(child.Process.Pid)
	time.Sleep(300 * time.Millisecond) // the catcher is set up in the background
	fmt.Println("running")
	fmt.Printf("child: %v\n", child.Wait())
	stop()
	fmt.Println("stopped")
	time.Sleep(10 * time.Second)
	os.Exit(0)
}
