package nsbox

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// These tests really build the sandbox. They mean most when run as an
// unprivileged user (go test -c, then run the binary as that user); as root
// they check the same things with uid 0 mapped to 0.

// newSpec is a run of argv with a fresh, empty NixDir, the test's
// environment and the test's cwd.
func newSpec(t *testing.T, argv ...string) launch.Spec {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return launch.Spec{NixDir: t.TempDir(), Argv: argv, Env: os.Environ(), Dir: wd}
}

// output runs spec, requires exit status 0 and returns stdout.
func output(t *testing.T, spec launch.Spec) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec.Stdout, spec.Stderr = &stdout, &stderr
	ws, err := Run(spec)
	if err != nil {
		t.Fatalf("Run(%q): %v", spec.Argv, err)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("Run(%q): %s\nstdout: %s\nstderr: %s", spec.Argv, proc.DescribeStatus(ws), &stdout, &stderr)
	}
	return stdout.String()
}

func sh(t *testing.T, script string) string {
	t.Helper()
	return output(t, newSpec(t, "sh", "-c", script))
}

func TestProgramRunsAsTheCallersUid(t *testing.T) {
	got := strings.TrimSpace(sh(t, "id -u; id -g"))
	want := strconv.Itoa(os.Geteuid()) + "\n" + strconv.Itoa(os.Getegid())
	if got != want {
		t.Errorf("id -u; id -g = %q, want %q", got, want)
	}
}

func TestIDMapsAreIdentityAndSetgroupsDenied(t *testing.T) {
	got := strings.Fields(sh(t, "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"))
	u, g := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	want := []string{u, u, "1", g, g, "1", "deny"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("uid_map gid_map setgroups = %q, want %q", got, want)
	}
}

// capabilities returns the Cap* lines of the program's /proc/self/status.
func capabilities(t *testing.T) map[string]string {
	caps := map[string]string{}
	for _, line := range strings.Split(sh(t, "grep ^Cap /proc/self/status"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			caps[k] = strings.TrimSpace(v)
		}
	}
	if len(caps) < 5 {
		t.Fatalf("no capability lines: %v", caps)
	}
	return caps
}

func TestProgramHasNoCapabilitiesLeft(t *testing.T) {
	caps := capabilities(t)
	zero := "0000000000000000"
	if caps["CapAmb"] != zero || caps["CapInh"] != zero {
		t.Errorf("ambient or inheritable capabilities reach the program: %v", caps)
	}
	if os.Geteuid() != 0 && (caps["CapEff"] != zero || caps["CapPrm"] != zero) {
		t.Errorf("a non-root program has capabilities: %v", caps)
	}
	if os.Geteuid() == 0 && caps["CapEff"] == zero {
		t.Errorf("root lost its capabilities inside: %v", caps)
	}
}

func TestRootHasTheHostsEntriesPlusNix(t *testing.T) {
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nix"}
	for _, e := range host {
		if e.Name() != "nix" {
			want = append(want, e.Name())
		}
	}
	sort.Strings(want)
	got := strings.Fields(sh(t, "ls -A /"))
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ls -A / inside:\n%q\nwant:\n%q", got, want)
	}
}

func TestTopLevelSymlinksAndFilesKeepTheirKind(t *testing.T) {
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	var want strings.Builder
	for _, e := range host {
		name := "/" + e.Name()
		switch {
		case e.Name() == "nix":
		case e.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(name)
			if err != nil {
				t.Fatal(err)
			}
			script.WriteString("echo " + name + " link $(readlink " + name + ")\n")
			want.WriteString(name + " link " + link + "\n")
		case e.Type().IsRegular():
			script.WriteString("test -f " + name + " && echo " + name + " file\n")
			want.WriteString(name + " file\n")
		}
	}
	if want.Len() == 0 {
		t.Fatal("the host root has no symlink and no file: this test checks nothing here")
	}
	if got := sh(t, script.String()); got != want.String() {
		t.Errorf("inside:\n%s\nwant:\n%s", got, want.String())
	}
	if _, err := os.Lstat("/bin"); err == nil {
		if got, want := sh(t, "test -L /bin && echo link || echo not-link"), map[bool]string{true: "link\n", false: "not-link\n"}[isSymlink("/bin")]; got != want {
			t.Errorf("/bin inside: %q, want %q", got, want)
		}
	}
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

func TestNixIsTheDataDirAndWritable(t *testing.T) {
	spec := newSpec(t, "sh", "-c", "cat /nix/marker && echo written > /nix/store-file && ls -A /nix")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "marker"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := output(t, spec), "from host\nmarker\nstore-file\n"; got != want {
		t.Errorf("inside: %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(spec.NixDir, "store-file"))
	if err != nil || string(b) != "written\n" {
		t.Errorf("file written to /nix inside: %q, %v", b, err)
	}
}

func TestNixDirMayBeGivenThroughASymlink(t *testing.T) {
	spec := newSpec(t, "cat", "/nix/marker")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "marker"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(spec.NixDir, link); err != nil {
		t.Fatal(err)
	}
	spec.NixDir = link
	if got := output(t, spec); got != "ok" {
		t.Errorf("got %q", got)
	}
}

func TestNixIsTheNixDirAndNothingElse(t *testing.T) {
	// Whatever the host has at /nix, inside it is the NixDir alone.
	spec := newSpec(t, "ls", "-A", "/nix")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := output(t, spec); got != "marker\n" {
		t.Errorf("/nix inside holds %q, want only the NixDir's marker", got)
	}
}

func TestRootIsReadOnly(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, exe)
	spec.Env = append(spec.Env, helperEnv+"=write-root")
	if got := output(t, spec); got != "EROFS\n" {
		t.Errorf("creating /x inside: %q, want EROFS", got)
	}
}

func TestTmpIsTheHostsTmp(t *testing.T) {
	f, err := os.CreateTemp("/tmp", "np-nsbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if got := sh(t, "ls "+f.Name()); got != f.Name()+"\n" {
		t.Errorf("host file %s not visible inside: %q", f.Name(), got)
	}
	// And the scratch directories of the set-up are not there.
	if got := sh(t, "ls -d /tmp/oldroot /tmp/newroot /oldroot /newroot 2>/dev/null; true"); got != "" {
		t.Errorf("set-up leftovers visible: %q", got)
	}
}

func TestDevShmIsUsable(t *testing.T) {
	if got := sh(t, `f=/dev/shm/np-test-$$; echo x > $f && cat $f && rm $f`); got != "x\n" {
		t.Errorf("got %q", got)
	}
}

func TestWorkingDirectoryIsKept(t *testing.T) {
	spec := newSpec(t, "sh", "-c", `pwd; echo "$PWD"`)
	spec.Dir = t.TempDir()
	if got, want := output(t, spec), spec.Dir+"\n"+spec.Dir+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUnreachableWorkingDirectoryNameKeepsTheInheritedOneNotHome(t *testing.T) {
	home := t.TempDir()
	spec := newSpec(t, "sh", "-c", `touch np-test-x`)
	spec.Dir = "/nonexistent/np-test" // the init itself runs in the test's cwd
	spec.Env = append(withoutVar(spec.Env, "HOME"), "HOME="+home)
	output(t, spec)
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the program wrote into $HOME: %v", entries)
	}
	wd, _ := os.Getwd()
	if err := os.Remove(filepath.Join(wd, "np-test-x")); err != nil {
		t.Errorf("the program did not run in the inherited working directory: %v", err)
	}
}

func TestWorkingDirectoryHiddenByNixIsAnError(t *testing.T) {
	// The test runs elsewhere; /nix inside is the (empty) NixDir.
	spec := newSpec(t, "true")
	spec.Dir = "/nix"
	_, err := Run(spec)
	var wdErr *WorkDirError
	if !errors.As(err, &wdErr) || !strings.Contains(err.Error(), "/nix") {
		t.Fatalf("Run in a host /nix directory: %v, want a *WorkDirError naming it", err)
	}
}

func TestDeletedWorkingDirectoryIsKeptAsWithoutNp(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	script := `touch x 2>/dev/null && echo created || echo refused; ls -a | wc -l`
	native, _ := exec.Command("sh", "-c", script).Output()
	// Dir "" is what np passes when getcwd fails.
	spec := launch.Spec{NixDir: t.TempDir(), Argv: []string{"sh", "-c", script},
		Env: append(withoutVar(os.Environ(), "HOME"), "HOME="+home)}
	if got := output(t, spec); got != string(native) {
		t.Errorf("in a deleted directory, inside np: %q, without np: %q", got, native)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the program wrote into $HOME: %v", entries)
	}
}

func TestNonUTF8WorkingDirectoryIsKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d\xe9\xff")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	spec := newSpec(t, "sh", "-c", `pwd; printf '%s\n' "$PWD"`)
	spec.Dir = dir
	if got, want := output(t, spec), dir+"\n"+dir+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func withoutVar(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func TestExitCodePassesThrough(t *testing.T) {
	ws, err := Run(newSpec(t, "sh", "-c", "exit 42"))
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Exited() || ws.ExitStatus() != 42 {
		t.Errorf("got %s, want exit status 42", proc.DescribeStatus(ws))
	}
}

func TestDeathBySignalIsReported(t *testing.T) {
	ws, err := Run(newSpec(t, "sh", "-c", "kill -TERM $$"))
	if err != nil {
		t.Fatal(err)
	}
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("got %s, want signal SIGTERM", proc.DescribeStatus(ws))
	}
}

func TestUnknownProgramIsNotFound(t *testing.T) {
	var stdout, stderr bytes.Buffer
	spec := newSpec(t, "np-no-such-program")
	spec.Stdout, spec.Stderr = &stdout, &stderr
	_, err := Run(spec)
	if !errors.Is(err, proc.ErrNotFound) {
		t.Fatalf("got %v, want proc.ErrNotFound", err)
	}
	var setupErr *launch.SetupError
	if errors.As(err, &setupErr) {
		t.Errorf("a lookup failure came back as a set-up failure: %v", err)
	}
	if !strings.Contains(err.Error(), `"np-no-such-program"`) {
		t.Errorf("message does not name the program: %v", err)
	}
	if stdout.Len()+stderr.Len() != 0 {
		t.Errorf("the init printed something: %q %q", &stdout, &stderr)
	}
}

func TestProgramIsLookedUpOnTheSpecsPath(t *testing.T) {
	spec := newSpec(t, "np-test-tool")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "np-test-tool"), []byte("#!/bin/sh\necho tool ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec.Env = append(withoutVar(spec.Env, "PATH"), "PATH=/nonexistent:/nix:/usr/bin:/bin")
	if got := output(t, spec); got != "tool ran\n" {
		t.Errorf("got %q", got)
	}
}

func TestScriptWithoutShebangRunsWithSh(t *testing.T) {
	spec := newSpec(t, "/nix/script")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "script"), []byte("echo sh ran \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec.Argv = append(spec.Argv, "arg")
	if got := output(t, spec); got != "sh ran arg\n" {
		t.Errorf("got %q", got)
	}
}

func TestNonExecutableFileIsNotExecutable(t *testing.T) {
	spec := newSpec(t, "/nix/data")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "data"), []byte("echo no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(spec)
	if !errors.Is(err, proc.ErrNotExecutable) || !strings.Contains(err.Error(), `"/nix/data"`) {
		t.Errorf("got %v, want proc.ErrNotExecutable naming /nix/data", err)
	}
}

func TestMissingInterpreterIsNotFound(t *testing.T) {
	spec := newSpec(t, "/nix/script")
	if err := os.WriteFile(filepath.Join(spec.NixDir, "script"), []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Run(spec)
	if !errors.Is(err, proc.ErrNotFound) || !strings.Contains(err.Error(), "interpreter") {
		t.Errorf("got %v, want proc.ErrNotFound mentioning the interpreter", err)
	}
}

func TestOnlyStdioAndPassedFDsReachTheProgram(t *testing.T) {
	// An fd of np's own (close-on-exec, as Go opens everything) must not
	// reach the program; one without close-on-exec is the caller's, passed
	// on purpose (`np run prog 5<file`), and must arrive at its number.
	own, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	passed, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer passed.Close()
	if _, err := unix.FcntlInt(passed.Fd(), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	// ls itself opens fd 3 to read the directory; whatever this test
	// process inherited from its own caller passes through as well.
	want := map[string]bool{"0": true, "1": true, "2": true, "3": true}
	for _, fd := range proc.InheritedFDs() {
		want[strconv.Itoa(fd)] = true
	}
	if !want[strconv.Itoa(int(passed.Fd()))] || want[strconv.Itoa(int(own.Fd()))] {
		t.Fatalf("InheritedFDs() = %v: wrong about the passed fd %d or np's own fd %d", proc.InheritedFDs(), passed.Fd(), own.Fd())
	}
	spec := newSpec(t, "ls", "/proc/self/fd")
	spec.PassFDs = proc.InheritedFDs()
	got := strings.Fields(output(t, spec))
	if len(got) != len(want) {
		t.Fatalf("fds inside: %v, want %v", got, want)
	}
	for _, fd := range got {
		if !want[fd] {
			t.Fatalf("fds inside: %v, want %v (np's own fd is %d)", got, want, own.Fd())
		}
	}
}

// Where close_range is refused (EPERM from a seccomp profile older than
// it; before Linux 5.9 there is none), the init closes np's descriptors
// from /proc/self/fd instead: none may reach the program.
func TestNpsFDsAreClosedWithoutCloseRange(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(withoutVar(os.Environ(), helperEnv), helperEnv+"=no-close-range")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	// ls opens fd 3 itself to read the directory.
	if got := strings.Join(strings.Fields(string(out)), " "); got != "0 1 2 3" {
		t.Errorf("fds inside without close_range: %s, want 0 1 2 3", got)
	}
}

func TestPassedFDsSurviveRun(t *testing.T) {
	// The caller's descriptor is handed on by duplicate: after Run and a
	// garbage collection, it must still be open in np.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	spec := newSpec(t, "true")
	spec.PassFDs = []int{fd}
	output(t, spec)
	runtime.GC()
	runtime.GC()
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatalf("fd %d passed to Run is gone afterwards: %v", fd, err)
	}
}

func TestStdioIsConnected(t *testing.T) {
	var stdout, stderr bytes.Buffer
	spec := newSpec(t, "sh", "-c", "cat; echo to-stderr >&2")
	spec.Stdin = strings.NewReader("from stdin\n")
	spec.Stdout, spec.Stderr = &stdout, &stderr
	ws, err := Run(spec)
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatal(ws, err)
	}
	if stdout.String() != "from stdin\n" || stderr.String() != "to-stderr\n" {
		t.Errorf("stdout %q, stderr %q", &stdout, &stderr)
	}
}

type countingReader struct {
	r     *strings.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) { c.reads++; return c.r.Read(p) }

func TestArgumentsAndEnvironmentPassExactly(t *testing.T) {
	args := []string{"with space", "", "new\nline", "*", "$HOME", "caf\xe9", "\xff\xfe", "\xe9\n"}
	spec := newSpec(t, append([]string{"sh", "-c", `printf '[%s]' "$@"; printf '{%s}' "$NP_TEST_VAR" "$NP_TEST_EMPTY"`, "sh"}, args...)...)
	spec.Env = append(spec.Env, "NP_TEST_VAR=a b\nc\xe9\xff", "NP_TEST_EMPTY=", "NP_\xe9=1")
	if got, want := output(t, spec), "[with space][][new\nline][*][$HOME][caf\xe9][\xff\xfe][\xe9\n]{a b\nc\xe9\xff}{}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := output(t, newSpecEnv(spec.Env, "env")); !strings.Contains(got, "\nNP_\xe9=1\n") {
		t.Errorf("a variable with a non-UTF-8 name did not arrive: %q", got)
	}
}

func newSpecEnv(env []string, argv ...string) launch.Spec {
	wd, _ := os.Getwd()
	return launch.Spec{NixDir: os.TempDir(), Argv: argv, Env: env, Dir: wd}
}

func TestNestedUserNamespacesWork(t *testing.T) {
	// Would be EPERM if the sandbox root were a chroot.
	if got := sh(t, "unshare -U -r id -u"); got != "0\n" {
		t.Errorf("unshare -U -r id -u inside: %q", got)
	}
}

func TestProbeSucceedsHere(t *testing.T) {
	if err := Probe(); err != nil {
		t.Fatalf("Probe: %v (%+v)", err, Diagnose(err))
	}
}

func TestParallelRuns(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, err := Run(newSpec(t, "true"))
			if err == nil && ws.ExitStatus() != 0 {
				err = errors.New(proc.DescribeStatus(ws))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// The init blocks SIGPIPE for itself (np may be gone when it writes the
// marker); the program must not inherit that: `yes | head -1` relies on
// SIGPIPE ending yes.
func TestProgramGetsNoBlockedSignals(t *testing.T) {
	// grep itself, not under sh: dash empties its mask at start.
	got := strings.TrimSpace(output(t, newSpec(t, "grep", "^SigBlk:", "/proc/self/status")))
	mask, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(got, "SigBlk:")), 16, 64)
	if err != nil {
		t.Fatalf("program's status line %q: %v", got, err)
	}
	if mask != 0 {
		t.Errorf("the program starts with signals blocked: SigBlk %#x (SIGPIPE is %#x)", mask, uint64(1)<<(unix.SIGPIPE-1))
	}
}

func TestKillingTheLauncherKillsTheProgram(t *testing.T) {
	killLauncherAndWatch(t, "run-sleep")
}

func TestKillingTheLauncherKillsTheProgramsBackgroundChildren(t *testing.T) {
	killLauncherAndWatch(t, "run-background")
}

func TestProgramsLeftoversEndWithIt(t *testing.T) {
	// The program exits at once, leaving a background child behind.
	out := sh(t, "sleep 1000 >/dev/null 2>&1 & echo $!")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("program printed %q", out)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("background child %d outlived the program and the sandbox", pid)
	}
}

// On a kernel without /proc/PID/task/TID/children (4.4.178's config) the
// init finds its children from every /proc/PID/stat: what the program
// left running still ends with it.
func TestLeftoversEndWithItWithoutChildrenLists(t *testing.T) {
	spec := newSpec(t, "sh", "-c", "sleep 1000 >/dev/null 2>&1 & sleep 1000 >/dev/null 2>&1 & echo $!")
	var stdout bytes.Buffer
	spec.Stdout = &stdout
	ws, err := run(&spec, false, initOptions{scanChildren: true})
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("run: %v %v", ws, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(stdout.String()))
	if err != nil {
		t.Fatalf("program printed %q", stdout.String())
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("background child %d outlived the program and the sandbox", pid)
	}
}

func TestOrphansAreReapedWhileTheProgramRuns(t *testing.T) {
	// The subshell's child is orphaned at once and exits; the init is its
	// reaper now and must reap it, or it stays a zombie until the program
	// ends.
	out := sh(t, `(sleep 0.1 & echo $!); sleep 0.5; echo done`)
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[1] != "done" {
		t.Fatalf("program printed %q", out)
	}
	pid, _ := strconv.Atoi(lines[0])
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("orphan %d still exists after it ended (a zombie nobody reaps)", pid)
	}
}

func killLauncherAndWatch(t *testing.T, mode string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(withoutVar(os.Environ(), helperEnv), helperEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("helper printed %q", buf[:n])
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("sandboxed program %d outlived the launcher killed with SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestHostMountsMadeLaterPropagateIn(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(withoutVar(os.Environ(), helperEnv), helperEnv+"=propagation")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	if string(out) != "propagated\n" {
		t.Errorf("the program saw %q in a directory mounted on after it started, want \"propagated\\n\"", out)
	}
}

// Where pivot_root is refused (an initramfs root), the init moves the
// scratch root over / and chroots; that must work for an unprivileged user
// too (it needs CAP_SYS_CHROOT kept across the re-exec), and nested user
// namespaces must still work afterwards (the second pivot undoes the
// chroot).
func TestPivotRootFallbackWorksUnprivileged(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	if os.Geteuid() == 0 {
		// Run the helper as nobody: as root the init has every capability
		// anyway and the test would prove nothing.
		dir, err := os.MkdirTemp("", "np-fallback-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		copyExe := filepath.Join(dir, "nsbox.test")
		data, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyExe, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(copyExe)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	cmd.Dir = "/"
	cmd.Env = append(withoutVar(withoutVar(os.Environ(), helperEnv), "TMPDIR"), helperEnv+"=fallback-root", "TMPDIR=/tmp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("a run through the pivot_root fallback as uid %d: %v\n%s", os.Geteuid(), err, out)
	}
	names := strings.Fields(string(out))
	if !slicesContains(names, "nix") || !slicesContains(names, "nested-ok") || !slicesContains(names, "proc") {
		t.Fatalf("root through the fallback lacks /nix or /proc, or nested user namespaces fail:\n%s", out)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
