//go:build integration

package integration

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// term is a real pseudo-terminal with a process on its slave side.
type term struct {
	t      *testing.T
	ptm    *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool // every process on the slave side is gone: no more output
}

func startInPty(t *testing.T, cmd *exec.Cmd) *term {
	t.Helper()
	// A session of its own (pty sets Setsid): a session leader cannot
	// also be put in a new group, and leads its own anyway.
	if cmd.SysProcAttr != nil {
		cmd.SysProcAttr.Setpgid = false
	}
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 31, Cols: 97})
	if err != nil {
		t.Fatalf("starting in a pty: %v", err)
	}
	tm := &term{t: t, ptm: ptm, cmd: cmd}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptm.Read(b)
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			tm.closed = err != nil
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); ptm.Close() })
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// expect waits until the screen output contains s, counted from the start.
func (tm *term) expect(s string, count int) {
	tm.t.Helper()
	deadline := time.Now().Add(bound(20 * time.Second))
	for time.Now().Before(deadline) {
		tm.mu.Lock()
		closed := tm.closed
		tm.mu.Unlock()
		if strings.Count(tm.output(), s) >= count {
			return
		}
		if closed {
			break // nothing more will come
		}
		time.Sleep(20 * time.Millisecond)
	}
	tm.t.Fatalf("terminal never showed %q (x%d); it shows:\n%s", s, count, tm.output())
}

func (tm *term) send(s string) {
	if _, err := io.WriteString(tm.ptm, s); err != nil {
		tm.t.Fatalf("writing to the pty: %v", err)
	}
}

func TestCtrlCReachesChildThatTrapsINT(t *testing.T) {
	cmd := npCmd(t, runOpts{}, "run", "sh", "-c", `trap 'echo got-int; exit 3' INT; echo ready; while :; do sleep 0.1; done`)
	tm := startInPty(t, cmd)
	tm.expect("ready", 1)
	tm.send("\x03")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(bound(10 * time.Second)):
		t.Fatalf("np did not end after ^C; terminal:\n%s", tm.output())
	}
	tm.expect("got-int", 1)
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("exit %d after ^C, want the trap's 3", code)
	}
}

func TestCtrlZStopsAndFgResumes(t *testing.T) {
	loc := sharedLocation(t)
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Env = append(cleanEnv(), "NP_LOCATION="+loc, "PS1=PROMPT> ", "TERM=dumb")
	tm := startInPty(t, cmd)
	tm.expect("PROMPT> ", 1)
	// The quotes keep the echoed command line from matching the output.
	tm.send(npBin + ` run sh -c 'echo st""arted; sleep 1; echo fin""ished'; echo "sta""tus=$?"` + "\n")
	tm.expect("started", 1)
	tm.send("\x1a")
	tm.expect("Stopped", 1)
	tm.expect("PROMPT> ", 2)
	if strings.Contains(tm.output(), "finished") {
		t.Fatalf("the job finished although it was stopped:\n%s", tm.output())
	}
	tm.send(`fg; echo "aft""er=$?"` + "\n")
	tm.expect("finished", 1)
	tm.expect("after=0", 1)
	tm.send("jobs; echo jobs-done\n")
	tm.expect("jobs-done", 2)
	tm.send("exit\n")
	waitBounded(t, cmd, 2*time.Minute)
}

func TestTerminalSizeIsVisibleInside(t *testing.T) {
	cmd := npCmd(t, runOpts{}, "run", "stty", "size")
	tm := startInPty(t, cmd)
	waitBounded(t, cmd, 2*time.Minute)
	tm.expect("31 97", 1)
}

func TestWindowResizeReachesProgram(t *testing.T) {
	cmd := npCmd(t, runOpts{}, "run", "sh", "-c", `trap 'echo "size=$(stty size)"' WINCH; echo ready; while :; do sleep 0.05; done`)
	tm := startInPty(t, cmd)
	tm.expect("ready", 1)
	if err := pty.Setsize(tm.ptm, &pty.Winsize{Rows: 42, Cols: 101}); err != nil {
		t.Fatal(err)
	}
	tm.expect("size=42 101", 1)
}

func TestFirstRunShowsProgressOnATerminalOnly(t *testing.T) {
	loc := newLocation(t)
	cmd := npCmd(t, runOpts{loc: loc}, "nix", "--version")
	tm := startInPty(t, cmd)
	waitBounded(t, cmd, 2*time.Minute)
	tm.expect("nix (Nix) "+nixVersion, 1)
	if !strings.Contains(tm.output(), "installing Nix (first run)") || !strings.Contains(tm.output(), "%") {
		t.Fatalf("no progress bar on a terminal:\n%q", tm.output())
	}
	// After the bar, the steps that print nothing of their own are named
	// (on a slow NFS home they take minutes), and the line is emptied
	// before Nix's own output.
	if !strings.Contains(tm.output(), "np: installing Nix (first run): registering np's store paths with Nix") {
		t.Fatalf("the first run did not name its registering step on the terminal:\n%q", tm.output())
	}
	out := tm.output()
	last := strings.LastIndex(out, "(first run): ")
	nix := strings.Index(out, "nix (Nix) ")
	if last < 0 || nix < last || !strings.Contains(out[last:nix], "\r\033[K") {
		t.Fatalf("the install's step line was not emptied before Nix's output:\n%q", out)
	}
	// NP_LOCATION created by the first run: its line starts a line of
	// its own, not the end of a step's.
	fresh := filepath.Join(newLocation(t), "new")
	cmd = npCmd(t, runOpts{loc: fresh}, "nix", "--version")
	tm = startInPty(t, cmd)
	waitBounded(t, cmd, 2*time.Minute)
	tm.expect("nix (Nix) "+nixVersion, 1)
	if out := tm.output(); !strings.HasPrefix(out, "np: NP_LOCATION "+fresh+" did not exist") {
		t.Fatalf("the first run in a new NP_LOCATION did not begin by saying it created it:\n%q", out)
	}
	quiet := np(t, runOpts{loc: newLocation(t)}, "nix", "--version")
	if must(t, quiet); quiet.stderr != "" {
		t.Fatalf("first run without a terminal printed to stderr:\n%s", quiet.stderr)
	}
}

// np repair runs the install's steps again on an installed data dir: on a
// terminal its bar and step line say it repairs, never "first run".
func TestRepairOnATerminalSaysItRepairs(t *testing.T) {
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc}, "nix", "--version"))
	cmd := npCmd(t, runOpts{loc: loc}, "repair")
	tm := startInPty(t, cmd)
	if err := waitBounded(t, cmd, 2*time.Minute); err != nil {
		t.Fatalf("np repair: %v\n%q", err, tm.output())
	}
	tm.expect("intact", 1)
	out := tm.output()
	if !strings.Contains(out, "np: repairing Nix [") || !strings.Contains(out, "np: repairing Nix: ") {
		t.Fatalf("np repair on a terminal did not say it repairs on its bar and step line:\n%q", out)
	}
	if strings.Contains(out, "first run") {
		t.Fatalf("np repair on a terminal called itself a first run:\n%q", out)
	}
}

func TestRunWithoutProgramStartsShell(t *testing.T) {
	r := np(t, runOpts{env: []string{"SHELL=/bin/sh"}, stdin: []byte("echo inside-$((40+2))\n")}, "run")
	if got := must(t, r); got != "inside-42\n" {
		t.Fatalf("np run with a script on stdin printed %q", got)
	}
}
