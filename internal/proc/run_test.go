package proc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

const helperEnv = "PROC_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper runs a helper mode of the test binary; it returns the exit code.
func helper(mode string) int {
	switch {
	case mode == "count-signals":
		// Count SIGINT and SIGTERM until 500 ms after the first one (so
		// that a duplicate has time to arrive, however late the first came
		// on a loaded machine), then report; 10 s without any ends it too.
		sigs := make(chan os.Signal, 10)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
		fmt.Println("ready")
		counts := map[os.Signal]int{}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case s := <-sigs:
				if counts[unix.SIGINT]+counts[unix.SIGTERM] == 0 {
					timeout = time.After(500 * time.Millisecond)
				}
				counts[s]++
			case <-timeout:
				fmt.Printf("INT=%d TERM=%d\n", counts[unix.SIGINT], counts[unix.SIGTERM])
				return 0
			}
		}
	case mode == "run-counter":
		// np's part: run count-signals under Run and report its status.
		cmd := exec.Command(os.Args[0])
		cmd.Env = helperEnvFor("count-signals")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		ws, err := Run(cmd)
		fmt.Printf("status=%d err=%v\n", ws.ExitStatus(), err)
		return 0
	case mode == "print-ignored":
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "SigIgn:") {
				fmt.Println(strings.TrimSpace(strings.TrimPrefix(l, "SigIgn:")))
			}
		}
		return 0
	case mode == "run-print-ignored":
		cmd := exec.Command(os.Args[0])
		cmd.Env = helperEnvFor("print-ignored")
		cmd.Stdout = os.Stdout
		if _, err := Run(cmd); err != nil {
			return 1
		}
		return 0
	case strings.HasPrefix(mode, "reraise-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(mode, "reraise-"))
		// As main would have: np was catching it while the child ran.
		signal.Notify(make(chan os.Signal, 1), syscall.Signal(n))
		Reraise(syscall.Signal(n))
		return 99
	case mode == "kill-tree-scan":
		return killTreeByScanHelper()
	case mode == "cloexec" || mode == "cloexec-scan":
		bait, err := unix.Open("/dev/null", unix.O_RDONLY, 0) // no O_CLOEXEC
		if err != nil {
			return 1
		}
		fmt.Fprintln(os.Stderr, "bait fd", bait)
		if mode == "cloexec" {
			err = CloseExtraFDs()
		} else {
			err = cloexecByScan(nil)
		}
		if err != nil {
			fmt.Println(err)
			return 1
		}
		ls, _ := exec.LookPath("ls")
		err = syscall.Exec(ls, []string{"ls", "/proc/self/fd"}, os.Environ())
		fmt.Println(err)
		return 1
	}
	return 2
}

func helperEnvFor(mode string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, helperEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, helperEnv+"="+mode)
}

func TestRunReturnsTheWaitStatus(t *testing.T) {
	ws, err := Run(exec.Command("sh", "-c", "exit 42"))
	if err != nil || !ws.Exited() || ws.ExitStatus() != 42 {
		t.Errorf("got %v %v, want exit 42", ws, err)
	}
	ws, err = Run(exec.Command("sh", "-c", "kill -KILL $$"))
	if err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("got %v %v, want killed by SIGKILL", ws, err)
	}
}

func TestRunReportsStartFailures(t *testing.T) {
	if _, err := Run(exec.Command("/nonexistent/program")); err == nil {
		t.Error("no error for a program that does not exist")
	}
}

func TestRunHookSeesTheStartedChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 0")
	var pid int
	_, err := RunHook(cmd, func(p *os.Process) error { pid = p.Pid; return nil })
	if err != nil || pid == 0 || pid != cmd.Process.Pid {
		t.Errorf("hook saw pid %d, child was %d (%v)", pid, cmd.Process.Pid, err)
	}
	cmd = exec.Command("sh", "-c", "exit 0")
	hookErr := fmt.Errorf("hook failed")
	if _, err := RunHook(cmd, func(*os.Process) error { return hookErr }); err != hookErr {
		t.Errorf("got %v, want the hook's error", err)
	}
	if cmd.ProcessState == nil {
		t.Errorf("the child was not reaped after the hook failed")
	}
}

// startCounter starts run-counter (np running count-signals) and waits
// until the counter is ready. It returns the line reader of its output.
func startCounter(t *testing.T, cmd *exec.Cmd, out io.Reader) *bufio.Reader {
	t.Helper()
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("counter said %q, %v", line, err)
	}
	return r
}

func readResult(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if l := strings.TrimSpace(line); l != "" {
			lines = append(lines, l)
		}
		if err != nil || strings.HasPrefix(line, "status=") {
			return strings.Join(lines, " ")
		}
	}
}

func TestRunForwardsSignalsSentToTheLauncher(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnvFor("run-counter")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	r := startCounter(t, cmd, out)
	// No terminal here: both are forwarded, SIGINT included.
	_ = cmd.Process.Signal(unix.SIGTERM)
	_ = cmd.Process.Signal(unix.SIGINT)
	if got, want := readResult(t, r), "INT=1 TERM=1 status=0 err=<nil>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTerminalInterruptReachesTheChildOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnvFor("run-counter")
	tty, err := pty.Start(cmd) // new session, the pty as controlling terminal
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	defer cmd.Wait()
	r := startCounter(t, cmd, tty)
	if _, err := tty.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	got := readResult(t, r)
	if want := "INT=1 TERM=0 status=0 err=<nil>"; !strings.Contains(got, want) {
		t.Errorf("after one ^C: %q, want %q (the child is in the terminal's foreground group and must get exactly one SIGINT; np must survive it)", got, want)
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		script string
		code   int
		sig    syscall.Signal
	}{
		{"exit 0", 0, 0}, {"exit 42", 42, 0}, {"kill -TERM $$", 128 + 15, syscall.SIGTERM}, {"kill -INT $$", 130, syscall.SIGINT},
	} {
		ws, err := Run(exec.Command("sh", "-c", c.script))
		if err != nil {
			t.Fatal(err)
		}
		code, sig := ExitCode(ws)
		if code != c.code || sig != c.sig {
			t.Errorf("%s: ExitCode = %d, %v; want %d, %v", c.script, code, sig, c.code, c.sig)
		}
	}
}

func TestReraiseKillsTheProcessWithTheSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGKILL} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = helperEnvFor("reraise-" + strconv.Itoa(int(sig)))
		out, _ := cmd.CombinedOutput()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != sig {
			t.Errorf("Reraise(%v): process ended with %v, want death by %v\n%s", sig, ws, sig, out)
		}
		if len(out) != 0 {
			t.Errorf("Reraise(%v) printed %q (a Go crash dump?)", sig, out)
		}
	}
}

func TestReraiseReturnsForSignalsThatDoNotKill(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnvFor("reraise-" + strconv.Itoa(int(syscall.SIGCHLD)))
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 99 {
		t.Errorf("Reraise(SIGCHLD) did not return: exit %d", code)
	}
}

func TestCloseExtraFDsLeavesOnlyStdio(t *testing.T) {
	for _, mode := range []string{"cloexec", "cloexec-scan"} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = helperEnvFor(mode)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v %s", mode, err, out)
		}
		// ls opens fd 3 itself to read the directory.
		if string(out) != "0\n1\n2\n3\n" {
			t.Errorf("%s: fds after exec: %q", mode, out)
		}
	}
}

func TestInheritedIgnoredSignalsStayIgnored(t *testing.T) {
	// sh ignores SIGHUP and SIGINT, as nohup and a script's background job do.
	cmd := exec.Command("sh", "-c", `trap "" HUP INT; exec "$0"`, os.Args[0])
	cmd.Env = helperEnvFor("run-print-ignored")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	mask, err := strconv.ParseUint(strings.TrimSpace(string(out)), 16, 64)
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if mask&(1<<(sig-1)) == 0 {
			t.Errorf("%v is no longer ignored in the child (SigIgn %s)", sig, out)
		}
	}
}
