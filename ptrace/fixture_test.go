package ptrace

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// fixture is a Nix directory for tests, built once per test binary run:
//
//	/nix/hello                      "hello"
//	/nix/dir/                       a directory
//	/nix/link -> /nix/hello         absolute store-style symlink
//	/nix/rel -> hello               relative symlink
//	/nix/loop1 <-> /nix/loop2       a loop
//	/nix/store/glibc/lib/           the host's ld.so and libc
//	/nix/store/pkg/bin/busybox      a static busybox
//	/nix/store/pkg/bin/pathops      testdata/pathops.c, PT_INTERP under /nix
//	/nix/store/pkg/bin/script       #!/nix/store/pkg/bin/busybox sh
//	/nix/store/pkg/bin/nested       #!/nix/store/pkg/bin/script
//	/nix/store/pkg/bin/noexec       a script without x bits
//	/nix/store/pkg/bin/garbage      executable, neither ELF nor #!
//
// hostOps is pathops built for the host (its loader is the host's).
type fixture struct {
	nix     string
	hostOps string
	tmp     string // a directory for scratch files the tracee may write
}

const (
	storeOps     = "/nix/store/pkg/bin/pathops"
	storeBusybox = "/nix/store/pkg/bin/busybox"
)

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  string
)

func getFixture(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureVal, fixtureErr = buildFixture()
	})
	if fixtureErr != "" {
		t.Fatal(fixtureErr)
	}
	return fixtureVal
}

func buildFixture() (*fixture, string) {
	base, err := os.MkdirTemp("", "np-ptrace-fixture-")
	if err != nil {
		return nil, err.Error()
	}
	os.Chmod(base, 0o755)
	f := &fixture{nix: filepath.Join(base, "nix"), hostOps: filepath.Join(base, "pathops"), tmp: filepath.Join(base, "tmp")}
	src := testdataPath("pathops.c")
	steps := []func() error{
		func() error { return os.MkdirAll(f.nix+"/store/pkg/bin", 0o755) },
		func() error { return os.MkdirAll(f.nix+"/store/glibc/lib", 0o755) },
		func() error { return os.MkdirAll(f.nix+"/dir", 0o755) },
		func() error { return os.MkdirAll(f.tmp, 0o755) },
		func() error { return os.WriteFile(f.nix+"/hello", []byte("hello\n"), 0o644) },
		func() error { return os.Symlink("/nix/hello", f.nix+"/link") },
		func() error { return os.Symlink("hello", f.nix+"/rel") },
		func() error { return os.Symlink("/nix/loop2", f.nix+"/loop1") },
		func() error { return os.Symlink("/nix/loop1", f.nix+"/loop2") },
		func() error { return copyFile(hostBusybox(), f.nix+"/store/pkg/bin/busybox", 0o755) },
		func() error {
			return copyFile(hostLoader(), f.nix+"/store/glibc/lib/"+filepath.Base(hostLoader()), 0o755)
		},
		func() error { return copyFile(hostLib("libc.so.6"), f.nix+"/store/glibc/lib/libc.so.6", 0o755) },
		func() error { return buildPathops(src, f.hostOps, false) },
		func() error { return buildPathops(src, f.nix+"/store/pkg/bin/pathops", true) },
		func() error {
			return os.WriteFile(f.nix+"/store/pkg/bin/script", []byte("#!/nix/store/pkg/bin/busybox sh\necho script \"$0\" \"$@\"\n"), 0o755)
		},
		func() error {
			return os.WriteFile(f.nix+"/store/pkg/bin/nested", []byte("#!/nix/store/pkg/bin/script\n"), 0o755)
		},
		func() error {
			return os.WriteFile(f.nix+"/store/pkg/bin/noexec", []byte("#!/bin/sh\necho no\n"), 0o644)
		},
		func() error { return os.WriteFile(f.nix+"/store/pkg/bin/garbage", []byte("garbage\n"), 0o755) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, "building test fixture: " + err.Error()
		}
	}
	return f, ""
}

// pathopsEnv names a directory holding pathops built beforehand, for
// machines without gcc (the kernels' VMs, integration/kernels.sh):
// pathops with the host's loader and pathops-nix with
// /nix/store/glibc/lib's, each built as buildPathops would.
const pathopsEnv = "NP_PTRACE_TEST_PATHOPS"

// buildPathops compiles testdata/pathops.c to out, with its loader and
// libraries in the fixture's /nix/store/glibc/lib when inNix, or copies
// the prebuilt one from $NP_PTRACE_TEST_PATHOPS.
func buildPathops(src, out string, inNix bool) error {
	if dir := os.Getenv(pathopsEnv); dir != "" {
		name := "pathops"
		if inNix {
			name = "pathops-nix"
		}
		if err := copyFile(filepath.Join(dir, name), out, 0o755); err != nil {
			return fmt.Errorf("copying prebuilt pathops (%s=%s): %w", pathopsEnv, dir, err)
		}
		return nil
	}
	args := []string{"-O2", "-o", out, src, "-lpthread"}
	if inNix {
		args = append(args, "-Wl,--dynamic-linker=/nix/store/glibc/lib/"+filepath.Base(hostLoader()), "-Wl,-rpath,/nix/store/glibc/lib")
	}
	return runCmd("gcc", args...)
}

func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return &cmdError{name: name, err: err, out: string(out)}
	}
	return nil
}

type cmdError struct {
	name, out string
	err       error
}

func (e *cmdError) Error() string { return e.name + ": " + e.err.Error() + ": " + e.out }

// hostBusybox is the host's static busybox (Debian's busybox-static).
func hostBusybox() string { return "/bin/busybox" }

// hostLoader is the host's glibc dynamic loader (its PT_INTERP path).
func hostLoader() string {
	if runtime.GOARCH == "arm64" {
		return "/lib/ld-linux-aarch64.so.1"
	}
	return "/lib64/ld-linux-x86-64.so.2"
}

func hostLib(name string) string {
	for _, d := range []string{"/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib/aarch64-linux-gnu", "/lib"} {
		if _, err := os.Stat(d + "/" + name); err == nil {
			return d + "/" + name
		}
	}
	return "/lib/" + name
}

// testdataPath finds testdata/name from the package's source directory
// (the tests may run from a copy of the binary elsewhere).
func testdataPath(name string) string {
	if src := os.Getenv("NP_PTRACE_TEST_SRC"); src != "" {
		return filepath.Join(src, "testdata", name)
	}
	wd, _ := os.Getwd()
	return filepath.Join(wd, "testdata", name)
}

// modes runs f with the seccomp filter (and its notifications), with the
// filter but every call on ptrace (kernels before 5.6), and without it.
func modes(t *testing.T, f func(t *testing.T, noSeccomp bool)) {
	t.Run("seccomp", func(t *testing.T) { f(t, false) })
	t.Run("seccomp-ptrace-only", func(t *testing.T) {
		noNotifyForTests = true
		defer func() { noNotifyForTests = false }()
		f(t, false)
	})
	t.Run("no-seccomp", func(t *testing.T) { f(t, true) })
}

// noNotifyForTests makes traced() keep every filtered call on ptrace.
var noNotifyForTests bool

// expect checks a traced run's stdout.
func expect(t *testing.T, r runResult, want string) {
	t.Helper()
	if r.out != want {
		t.Errorf("stdout %q, want %q (stderr %q, status %v)", r.out, want, r.errOut, r.ws)
	}
}

// native runs argv on the host and returns its stdout.
func native(t *testing.T, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = testEnv()
	out, _ := cmd.Output()
	return string(out)
}
