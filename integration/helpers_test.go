//go:build integration

// Package integration runs the built np binary end to end, as an unprivileged
// user, against the real Nix it carries. Run it with `make integration`, which
// builds bin/np and drops to a test user when started as root.
package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/np-portable/np/extract"
)

var (
	npBin   = os.Getenv("NP_BIN")      // bin/np with its payload
	bareBin = os.Getenv("NP_BARE_BIN") // np built without a payload
)

func TestMain(m *testing.M) {
	if npBin == "" || bareBin == "" {
		fmt.Fprintln(os.Stderr, "integration: NP_BIN and NP_BARE_BIN must name the built binaries; run `make integration`")
		os.Exit(2)
	}
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "integration: np's tests must run as an unprivileged user; `make integration` drops to one")
		os.Exit(2)
	}
	if err := readNixVersion(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: reading np's payload:", err)
		os.Exit(2)
	}
	if err := selectPass(os.Getenv("NP_TEST_RUNTIME")); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(2)
	}
	resetSignals()
	code := m.Run()
	sharedOnce.Do(func() {}) // nothing more may start the shared install
	if sharedDir != "" {
		extract.RemoveTree(sharedDir)
	}
	os.Exit(code)
}

// nixVersion is the version of the Nix np carries (e.g. 2.34.8) and
// payloadBusybox the store path of its busybox, from its payload's
// manifest: the tests compare what Nix prints with them, so moving np to
// another Nix (assets/nix-version) needs no edit here.
var nixVersion, payloadBusybox string

func readNixVersion() error {
	p, err := extract.OpenPayload(npBin)
	if err != nil {
		return err
	}
	defer p.Close()
	m, err := extract.ReadManifest(p)
	if err != nil {
		return err
	}
	nixVersion, payloadBusybox = m.NixVersion, m.Busybox
	return nil
}

// resetSignals gives the programs the suite starts the default
// dispositions its tests depend on. Started as a background job of a
// non-interactive shell the suite ignores SIGINT and SIGQUIT, under nohup
// SIGHUP, and so would every program it starts (an ignored disposition
// survives exec; a sh cannot even trap a signal ignored at its start): the
// tests of ^C and hangup would then wait forever. Catching them makes the
// programs start with the default again. The suite itself keeps ignoring
// what it was told to ignore; the rest ends it.
func resetSignals() {
	ignored := map[os.Signal]bool{}
	sigs := []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTERM}
	for _, sig := range sigs {
		ignored[sig] = signal.Ignored(sig)
	}
	caught := make(chan os.Signal, 4)
	signal.Notify(caught, sigs...)
	go func() {
		for sig := range caught {
			if ignored[sig] {
				continue
			}
			fmt.Fprintf(os.Stderr, "integration: %v\n", sig)
			os.Exit(128 + int(sig.(syscall.Signal)))
		}
	}()
}

// ownGroup puts a process a test starts in a process group of its own,
// killed when the test ends, and kills it (by SIGKILL) if the test binary
// dies first (a timeout's panic runs no cleanup): nothing a test starts
// outlives it. np's own children die with np. A test that needs a session
// of its own sets Setsid after this; the group is then the session's.
func ownGroup(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = !cmd.SysProcAttr.Setsid
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
}

// waitBounded waits for a started cmd at most d; then it kills cmd's
// process group and fails the test, rather than wait for the suite's
// 30-minute timeout.
func waitBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not end within %v; killed it", strings.Join(cmd.Args, " "), d)
		return nil
	}
}

// result is what a caller of np sees.
type result struct {
	stdout, stderr string
	code           int            // exit status, -1 when killed by a signal
	signal         syscall.Signal // the signal that killed np, or 0
}

// runOpts tweak one np invocation.
type runOpts struct {
	loc   string   // NP_LOCATION; "" means the shared, already-installed one
	env   []string // extra KEY=VALUE entries
	stdin []byte
	dir   string
	bin   string // defaults to npBin
	argv0 string // defaults to the binary's path
	auto  bool   // leave NP_RUNTIME unset so np chooses, instead of the pass's runtime
}

var (
	sharedOnce sync.Once
	sharedDir  string // made for the shared install, removed at the end
	sharedLoc  string // set once the install succeeded
	sharedErr  string // why it did not
)

// sharedLocation is one NP_LOCATION installed once and reused by the tests
// that are not about installation.
func sharedLocation(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "np-shared-")
		if err != nil {
			sharedErr = err.Error()
			return
		}
		sharedDir = dir
		cmd := exec.Command(npBin, "nix", "--version")
		cmd.Env = append(cleanEnv(), "NP_LOCATION="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			sharedErr = fmt.Sprintf("%v\n%s", err, out)
			return
		}
		sharedLoc = dir
	})
	if sharedLoc == "" {
		t.Fatalf("installing into the shared location: %s", sharedErr)
	}
	return sharedLoc
}

// newLocation is a fresh, empty NP_LOCATION removed after the test (store
// paths are read-only, so plain RemoveAll would fail).
func newLocation(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "np-loc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { extract.RemoveTree(dir) })
	return dir
}

// np runs the np binary with args and returns what a caller would see.
func np(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	cmd := npCmd(t, o, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting np: %v", err)
	}
	err := waitBounded(t, cmd, 10*time.Minute)
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("waiting for np: %v", err)
		}
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	r.code = ws.ExitStatus()
	if ws.Signaled() {
		r.signal = ws.Signal()
	}
	return r
}

func npCmd(t *testing.T, o runOpts, args ...string) *exec.Cmd {
	t.Helper()
	loc := o.loc
	if loc == "" {
		loc = sharedLocation(t)
	}
	bin := o.bin
	if bin == "" {
		bin = npBin
	}
	cmd := exec.Command(bin, args...)
	if o.argv0 != "" {
		cmd.Args[0] = o.argv0
	}
	env := cleanEnv()
	if o.auto {
		env = autoEnv()
	}
	cmd.Env = append(env, "NP_LOCATION="+loc)
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Dir = o.dir
	ownGroup(t, cmd)
	return cmd
}

// cleanEnv is the test's environment without np's own variables, so the
// caller's NP_* settings cannot change what a test means, plus the pass's
// runtime choice. The tests are offline: no substituters, so Nix never
// waits on an unreachable cache.
func cleanEnv() []string {
	return append(autoEnv(), passes[pass]...)
}

// autoEnv is cleanEnv without the pass's runtime: np chooses by itself.
func autoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NP_") && !strings.HasPrefix(kv, "NIX_CONFIG=") {
			env = append(env, kv)
		}
	}
	return append(env, "NIX_CONFIG=substituters =")
}

// must asserts that np succeeded and returns its stdout.
func must(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 || r.signal != 0 {
		t.Fatalf("np failed: exit %d signal %v\nstdout:\n%s\nstderr:\n%s", r.code, r.signal, r.stdout, r.stderr)
	}
	return r.stdout
}

// timeScale stretches the tests' bounds on how long something may take
// (a program to start, np to end after a signal): NP_TEST_TIME_SCALE, an
// integer the environment sets where everything runs many times slower
// than on a real host, as in integration/kernels.sh's VMs under qemu
// without KVM (TCG). The bounds catch hangs, not slowness, so stretching
// them keeps what they test; they never shrink below the host's. Only the
// short ones stretch (seconds): a minute for np to end stays a minute, or a
// hung test would hold a VM's step past its limit, unnamed.
var timeScale = func() time.Duration {
	n, err := strconv.Atoi(os.Getenv("NP_TEST_TIME_SCALE"))
	if err != nil || n < 1 {
		return 1
	}
	return time.Duration(n)
}()

// bound is d stretched by timeScale.
func bound(d time.Duration) time.Duration { return d * timeScale }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	d = bound(d)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}
