package ptrace

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/np-portable/np/internal/launch"
)

// TestSignalsToTheTracerReachTheProgram: SIGTERM sent to np is forwarded
// to the program, whose handler runs; np reports its exit status.
func TestSignalsToTheTracerReachTheProgram(t *testing.T) {
	f := getFixture(t)
	for _, ns := range []string{"0", "1"} {
		self, _ := os.Executable()
		cmd := exec.Command(self)
		cmd.Env = append(testEnv(), helperEnv+"=trap-term", "NIXDIR="+f.nix, "NOSECCOMP="+ns)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(stdout)
		if line, err := rd.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("helper: %q %v", line, err)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan string, 1)
		go func() {
			var b strings.Builder
			for {
				l, err := rd.ReadString('\n')
				b.WriteString(l)
				if err != nil {
					done <- b.String()
					return
				}
			}
		}()
		select {
		case out := <-done:
			if out != "got TERM\nstatus 7\n" {
				t.Errorf("noseccomp=%s: after SIGTERM: %q", ns, out)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the program did not end after SIGTERM")
		}
		cmd.Wait()
	}
}

func trapTerm() int {
	ws, err := Run(launch.Spec{NixDir: os.Getenv("NIXDIR"), Env: os.Environ(),
		Argv: []string{"/bin/busybox", "sh", "-c", `trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done`}},
		Options{NoSeccomp: os.Getenv("NOSECCOMP") == "1"})
	if err != nil {
		fmt.Println("run:", err)
		return 1
	}
	fmt.Printf("status %d\n", ws.ExitStatus())
	return 0
}
