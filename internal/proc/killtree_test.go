package proc

import (
	"bufio"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The scan of /proc that stands in for /proc/PID/task/TID/children on
// kernels built without them: it must name the same children, and
// killTree must end a tree with it. Both run on every kernel, whether it
// has the lists or not.

func TestChildrenByScanNamesTheChildrenOnly(t *testing.T) {
	// Two children, and a grandchild (the sleep below sh), which is not one.
	var want []int
	for _, args := range [][]string{{"sleep", "1000"}, {"sh", "-c", "sleep 1000 & echo $!; wait"}} {
		cmd := exec.Command(args[0], args[1:]...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		want = append(want, cmd.Process.Pid)
		if args[0] == "sh" {
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("reading the grandchild's pid: %v", err)
			}
			grandchild, _ := strconv.Atoi(strings.TrimSpace(line))
			t.Cleanup(func() { _ = killPid(grandchild) })
		}
	}
	got := ChildrenByScan(os.Getpid())
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ChildrenByScan: %v; want the two children %v", got, want)
	}
	if files, _ := os.ReadDir("/proc/self/task/" + strconv.Itoa(os.Getpid())); slices.ContainsFunc(files, func(e os.DirEntry) bool { return e.Name() == "children" }) {
		fromKernel := children()
		slices.Sort(fromKernel)
		if !slices.Equal(got, fromKernel) {
			t.Errorf("ChildrenByScan: %v; the kernel's lists: %v", got, fromKernel)
		}
	}
}

func TestKillTreeByScanEndsTheTree(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnvFor("kill-tree-scan")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second // a tree left running holds the output pipe
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hung bool
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		hung = true
	}
	var pids []int
	for _, f := range strings.Fields(out.String()) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	if hung {
		for _, pid := range pids {
			_ = killPid(pid)
		}
		t.Fatalf("killTree with the scan still waited after 30 s (a child it did not kill?): %s", out.String())
	}
	if len(pids) != 3 {
		t.Fatalf("helper said %q; want the three pids of the tree", out.String())
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			_ = killPid(pid)
			t.Errorf("process %d of the tree outlived killTree", pid)
		}
	}
}

// killTreeByScanHelper is a subreaper with a tree below it: a child, the
// child's background job, and an orphan it took over; it ends them with
// killTree listing its children by the scan, and prints their pids.
func killTreeByScanHelper() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Println(err)
		return 1
	}
	cmd := exec.Command("sh", "-c", `(sleep 1000 & echo $!); sleep 1000 & echo $!; echo $$; wait`)
	out, err := cmd.StdoutPipe()
	if err != nil || cmd.Start() != nil {
		fmt.Println("starting the tree:", err)
		return 1
	}
	r := bufio.NewReader(out)
	var pids []string
	for range 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			fmt.Println("reading the tree's pids:", err)
			return 1
		}
		pids = append(pids, strings.TrimSpace(line))
	}
	// First, so that the test can clean up should killTree hang.
	fmt.Println(strings.Join(pids, " "))
	killTreeOf(func() []int { return ChildrenByScan(os.Getpid()) })
	return 0
}

func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
