package nsbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/hostile"
	"github.com/np-portable/np/internal/launch"
)

// helperEnv selects a helper mode of the test binary (see runHelper).
const helperEnv = "NSBOX_TEST_HELPER"

// TestMain makes the test binary a few helper programs the tests start.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// probeReport is what the probe helpers print.
type probeReport struct {
	Err    string
	Errno  int
	Cause  string
	Detail string
	Facts  map[string]string
}

// runHelper runs one helper mode and returns the exit code.
func runHelper(mode string) int {
	switch mode {
	case "write-root":
		// Print how creating /x fails, as an errno name.
		err := os.WriteFile("/x", nil, 0o644)
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.EROFS {
			fmt.Println("EROFS")
		} else {
			fmt.Println("not EROFS:", err)
		}
		return 0
	case "max-userns":
		// Runs as root of a fresh user namespace: forbid nested ones, then probe.
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 1
		}
		return printProbe()
	case "seccomp":
		// Re-exec under a Docker-like seccomp filter, then probe.
		env := append(withoutVar(os.Environ(), helperEnv), helperEnv+"=probe")
		exe, err := os.Executable()
		if err == nil {
			err = hostile.DenyUserNamespacesAndExec([]string{exe}, env)
		}
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	case "no-close-range":
		// Re-exec under a filter refusing close_range, then list-fds.
		env := append(withoutVar(os.Environ(), helperEnv), helperEnv+"=list-fds")
		exe, err := os.Executable()
		if err == nil {
			err = hostile.ExecUnderFilters([]string{"no-close-range"}, []string{exe}, env)
		}
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	case "list-fds":
		// np's own fds (close-on-exec, a few of them), then a program
		// listing the fds it got.
		if err := unix.CloseRange(1000, 1000, 0); err != unix.EPERM {
			fmt.Fprintln(os.Stderr, "helper: close_range not refused with EPERM:", err)
			return 1
		}
		for i := 0; i < 5; i++ {
			if _, err := os.Open("/dev/null"); err != nil {
				fmt.Fprintln(os.Stderr, "helper:", err)
				return 1
			}
		}
		nix, _ := os.MkdirTemp("", "np-nix-")
		defer os.Remove(nix)
		ws, err := Run(launch.Spec{NixDir: nix, Argv: []string{"ls", "/proc/self/fd"}, Env: os.Environ(), Dir: "/"})
		if err != nil || ws.ExitStatus() != 0 {
			fmt.Fprintln(os.Stderr, "helper: run ended:", ws, err)
			return 1
		}
		return 0
	case "probe":
		return printProbe()
	case "propagation":
		return propagationHelper()
	case "fallback-root":
		// A run through the initramfs path (move + chroot instead of the
		// first pivot_root), as whatever user this helper runs as.
		nix, _ := os.MkdirTemp("", "np-nix-")
		defer os.Remove(nix)
		ws, err := run(&launch.Spec{NixDir: nix, Argv: []string{"sh", "-c", "ls -A /; unshare -U true && echo nested-ok"},
			Env: os.Environ(), Dir: "/"}, false, initOptions{forcePivotFallback: true})
		if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
			fmt.Fprintln(os.Stderr, "helper: run ended:", ws, err)
			return 1
		}
		return 0
	case "run-background":
		// A program that leaves a background child, for killing this
		// process from outside: prints the background child's pid.
		nix, _ := os.MkdirTemp("", "np-nix-")
		ws, err := Run(launch.Spec{NixDir: nix, Argv: []string{"sh", "-c", "sleep 1000 & echo $!; exec sleep 1000"}, Env: os.Environ(), Dir: "/"})
		fmt.Fprintln(os.Stderr, "helper: run ended:", ws, err)
		return 1
	case "run-sleep":
		// A plain sandboxed run, for killing this process from outside.
		nix, _ := os.MkdirTemp("", "np-nix-")
		ws, err := Run(launch.Spec{NixDir: nix, Argv: []string{"sh", "-c", "echo $$; exec sleep 1000"}, Env: os.Environ(), Dir: "/"})
		fmt.Fprintln(os.Stderr, "helper: run ended:", ws, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// propagationHelper runs as root of its own user and mount namespaces (our
// stand-in for the host, where an unprivileged test cannot mount): it
// starts a sandboxed program, mounts a tmpfs on the "host" afterwards, and
// prints what the program saw there.
func propagationHelper() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper:", err); return 1 }
	// Like a systemd host: / is shared, so new mounts propagate to copies.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SHARED, ""); err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("/tmp", "np-propagation-")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(dir)
	nix, err := os.MkdirTemp("", "np-nix-")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(nix)
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	done := make(chan error, 1)
	go func() {
		ws, err := Run(launch.Spec{NixDir: nix, Env: os.Environ(), Dir: "/", Stdin: inR, Stdout: outW,
			Argv: []string{"sh", "-c", `echo ready; read x; cat "$1/file"`, "sh", dir}})
		if err == nil && ws.ExitStatus() != 0 {
			err = fmt.Errorf("program: %v", ws)
		}
		done <- err
	}()
	ready := make([]byte, 6)
	if _, err := io.ReadFull(outR, ready); err != nil {
		return fail(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		return fail(err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	if err := os.WriteFile(dir+"/file", []byte("propagated\n"), 0o644); err != nil {
		return fail(err)
	}
	inW.Write([]byte("go\n"))
	if err := <-done; err != nil {
		return fail(err)
	}
	outW.Close()
	rest, _ := io.ReadAll(outR)
	os.Stdout.Write(rest)
	return 0
}

func printProbe() int {
	err := Probe()
	d := Diagnose(err)
	r := probeReport{Cause: d.Cause, Detail: d.Detail, Facts: d.Facts}
	if err != nil {
		r.Err = err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			r.Errno = int(errno)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}
