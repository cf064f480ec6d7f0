//go:build containers

// Real containers: np in images of its own, run by a real Docker engine
// (Debian's docker.io) with the engine's default seccomp profile. Started by
// integration/containers.sh (`make containers`), which runs dockerd with a
// data root of its own and names its socket in DOCKER_HOST. The tests build
// their images with `docker import` of trees they make: no registry is
// reachable, and none is needed.
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/np-portable/np/extract"
)

// engine is a container engine's command line.
type engine struct {
	name string
	cmd  []string // the client and its global options
	// runFlags go on every `run`: Podman's default rlimits (RLIMIT_NPROC
	// and RLIMIT_NOFILE of 4194304 and 1048576) are above this machine's
	// hard limits, which its root, lacking CAP_SYS_RESOURCE, cannot raise,
	// so runc fails ("error setting rlimit type 7"); a user's machine
	// needs no such flag.
	runFlags []string
	// nsWorks: the engine's default profile lets np create user
	// namespaces (Podman's does; Docker's refuses them).
	nsWorks bool
}

var (
	npBin = os.Getenv("NP_BIN")
	// Debian's docker.io client, of the same version as the engine; the
	// engine's socket is DOCKER_HOST.
	dockerEngine = engine{name: "docker", cmd: []string{"/usr/bin/docker"}}
	// Debian's podman, with its state under NP_PODMAN_DIR.
	podmanEngine = engine{name: "podman", nsWorks: true,
		runFlags: []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}}

	// busyboxPath is the store path of np's own busybox: the builder of the
	// offline derivation, present in every data dir np installs.
	busyboxPath string
)

const (
	imageAlone   = "np-alone:test"   // FROM scratch: /np and an empty /tmp, /data
	imageBusybox = "np-busybox:test" // np beside a static busybox, as a small distro image would have
)

func TestMain(m *testing.M) {
	pd := os.Getenv("NP_PODMAN_DIR")
	if npBin == "" || os.Getenv("DOCKER_HOST") == "" || pd == "" {
		fmt.Fprintln(os.Stderr, "containers: NP_BIN, DOCKER_HOST and NP_PODMAN_DIR must be set; run `make containers`")
		os.Exit(2)
	}
	podmanEngine.cmd = []string{"podman", "--root", pd + "/root", "--runroot", pd + "/run", "--tmpdir", pd + "/tmp"}
	p, err := extract.OpenPayload(npBin)
	if err == nil {
		var man *extract.Manifest
		man, err = extract.ReadManifest(p)
		p.Close()
		if err == nil {
			busyboxPath = man.Busybox
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "containers: reading np's payload:", err)
		os.Exit(2)
	}
	if err := buildImages(); err != nil {
		fmt.Fprintln(os.Stderr, "containers: building the test images:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// buildImages imports the two images from trees made here.
func buildImages() error {
	dir, err := os.MkdirTemp("", "np-images")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, img := range []struct {
		name    string
		busybox bool
	}{{imageAlone, false}, {imageBusybox, true}} {
		tree := filepath.Join(dir, strings.NewReplacer(":", "-").Replace(img.name))
		for _, d := range []string{"tmp", "data"} {
			if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
				return err
			}
			// World-writable and sticky like a real /tmp, so a named
			// volume mounted on /data starts usable for any uid.
			if err := os.Chmod(filepath.Join(tree, d), 0o1777); err != nil {
				return err
			}
		}
		if out, err := exec.Command("cp", npBin, filepath.Join(tree, "np")).CombinedOutput(); err != nil {
			return fmt.Errorf("copying np: %v: %s", err, out)
		}
		if img.busybox {
			bin := filepath.Join(tree, "bin")
			os.MkdirAll(bin, 0o755)
			if out, err := exec.Command("cp", "/bin/busybox", filepath.Join(bin, "busybox")).CombinedOutput(); err != nil {
				return fmt.Errorf("copying busybox (package busybox-static): %v: %s", err, out)
			}
			for _, applet := range []string{"sh", "ls", "cat", "echo", "sleep", "ps", "grep", "id", "env"} {
				if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
					return err
				}
			}
		}
		for _, e := range []engine{dockerEngine, podmanEngine} {
			if err := e.importTree(tree, img.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// importTree makes an image of tree, with np as its entrypoint.
func (e engine) importTree(tree, name string) error {
	tar := exec.Command("tar", "-C", tree, "--numeric-owner", "--owner=0", "--group=0", "-c", ".")
	imp := exec.Command(e.cmd[0], append(e.cmd[1:], "import", "-c", `ENTRYPOINT ["/np"]`, "-", name)...)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := tar.Start(); err != nil {
		return err
	}
	if err := imp.Run(); err != nil {
		tar.Wait()
		return fmt.Errorf("%s import %s: %v: %s", e.name, name, err, out.String())
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar of %s: %v", name, err)
	}
	return nil
}

type dockerResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// docker runs Docker's client.
func docker(t *testing.T, args ...string) dockerResult {
	t.Helper()
	return dockerEngine.do(t, args...)
}

// do runs the engine's client and returns what it printed and its exit
// status (for `run`, the container's).
func (e engine) do(t *testing.T, args ...string) dockerResult {
	t.Helper()
	if len(args) > 0 && args[0] == "run" {
		args = append([]string{"run"}, append(append([]string{}, e.runFlags...), args[1:]...)...)
	}
	cmd := exec.Command(e.cmd[0], append(e.cmd[1:], args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := dockerResult{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %s: %v", e.name, strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// volume makes a named volume that the test removes afterwards.
func (e engine) volume(t *testing.T) string {
	name := fmt.Sprintf("np-test-%d", time.Now().UnixNano())
	if r := e.do(t, "volume", "create", name); r.code != 0 {
		t.Fatalf("%s volume create: %s", e.name, r.stderr)
	}
	t.Cleanup(func() { e.do(t, "volume", "rm", "-f", name) })
	return name
}

func volume(t *testing.T) string { return dockerEngine.volume(t) }

// offlineExpr is a derivation needing nothing from any cache: its builder
// is np's own busybox.
func offlineExpr(tag string) string {
	return fmt.Sprintf(`derivation { name = "np-container-%s"; system = builtins.currentSystem; `+
		`builder = "%s/bin/busybox"; args = [ "sh" "-c" "echo built-in-a-container > $out" ]; }`, tag, busyboxPath)
}

// containerCase is one way of running np's image: the flags a user would
// give `docker run`, and where np's data dir lives.
type containerCase struct {
	name   string
	flags  []string
	engine *engine // nil: Docker
}

func (c containerCase) eng() engine {
	if c.engine == nil {
		return dockerEngine
	}
	return *c.engine
}

// The default seccomp profile in every case (no --security-opt): what
// users get.
var containerCases = []containerCase{
	{name: "root", flags: nil},
	{name: "user", flags: []string{"--user", "1000:1000", "--tmpfs", "/tmp:exec,mode=1777", "-e", "HOME=/tmp/h"}},
	{name: "root-sys-ptrace", flags: []string{"--cap-add", "SYS_PTRACE"}},
	{name: "user-sys-ptrace", flags: []string{"--user", "1000:1000", "--cap-add", "SYS_PTRACE", "--tmpfs", "/tmp:exec,mode=1777", "-e", "HOME=/tmp/h"}},
	{name: "read-only", flags: []string{"--read-only", "--tmpfs", "/tmp:exec,mode=1777", "-e", "HOME=/tmp/h", "-e", "NP_LOCATION=/tmp"}},
}

// run starts np's image once with the case's flags, the extra flags, and
// np's arguments.
func (c containerCase) run(t *testing.T, image string, extra []string, npArgs ...string) dockerResult {
	args := append([]string{"run", "--rm", "--network", "none"}, c.flags...)
	args = append(args, extra...)
	args = append(append(args, image), npArgs...)
	return c.eng().do(t, args...)
}

// TestNpInARealContainer runs, for each way of starting the container, what
// a user does first: a build, a look at /, a check of the store, and
// doctor, which must say the runtime that really ran works.
func TestNpInARealContainer(t *testing.T) {
	cases := append([]containerCase{}, containerCases...)
	for _, c := range containerCases[:2] {
		c.name, c.engine = "podman-"+c.name, &podmanEngine
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.name != "read-only" {
				// The data dir on a named volume, kept across the
				// containers of this case, as users keep it.
				loc := "/data"
				extra = []string{"-v", c.eng().volume(t) + ":" + loc, "-e", "NP_LOCATION=" + loc}
			}
			build := c.run(t, imageAlone, append(extra, "-e", "NP_DEBUG=1"),
				"nix-build", "--no-out-link", "-E", offlineExpr(c.name))
			if build.code != 0 {
				t.Fatalf("np nix-build in the container: exit %d\n%s", build.code, build.stderr)
			}
			out := strings.TrimSpace(build.stdout)
			if !strings.HasPrefix(out, "/nix/store/") || !strings.HasSuffix(out, "-np-container-"+c.name) {
				t.Fatalf("np nix-build printed %q, want its output path", out)
			}
			// Docker's default profile refuses new namespaces: np must
			// have fallen back to ptrace, and said so under NP_DEBUG.
			// Podman's allows them: ns must have run.
			ran := "ptrace"
			if c.eng().nsWorks {
				ran = "ns"
			} else if !strings.Contains(build.stderr, "runtime ns cannot start here") {
				t.Errorf("np did not report the ns runtime refused; stderr:\n%s", build.stderr)
			}
			// An image without a C library of its own: Nix must still
			// find the NSS module it opens by name (under ns, with its
			// build sandbox on, it warned on every command).
			if strings.Contains(build.stderr, "unable to load nss_dns") {
				t.Errorf("Nix warns about a missing NSS module:\n%s", build.stderr)
			}
			if !strings.Contains(build.stderr, "runtime "+ran+": starting") {
				t.Errorf("the build did not run in the %s runtime; stderr:\n%s", ran, build.stderr)
			}

			if c.name != "read-only" { // there, nothing survives the container
				cat := c.run(t, imageAlone, extra, "run", "cat", out)
				if cat.code != 0 || strings.TrimSpace(cat.stdout) != "built-in-a-container" {
					t.Errorf("np run cat %s: exit %d, %q\n%s", out, cat.code, cat.stdout, cat.stderr)
				}
			}
			ls := c.run(t, imageAlone, extra, "run", "ls", "/")
			if ls.code != 0 || !hasLine(ls.stdout, "nix") {
				t.Errorf("np run ls / does not list nix: exit %d\n%s\n%s", ls.code, ls.stdout, ls.stderr)
			}
			verify := c.run(t, imageAlone, extra, "nix-store", "--verify", "--check-contents")
			if verify.code != 0 {
				t.Errorf("np nix-store --verify --check-contents: exit %d\n%s", verify.code, verify.stderr)
			}

			doc := c.run(t, imageAlone, extra, "doctor", "--json")
			if doc.code != 0 {
				t.Fatalf("np doctor exits %d where np works\n%s\n%s", doc.code, doc.stdout, doc.stderr)
			}
			var report struct {
				Auto     string `json:"auto"`
				Runtimes []struct {
					Name      string `json:"name"`
					Available bool   `json:"available"`
				} `json:"runtimes"`
			}
			if err := json.Unmarshal([]byte(doc.stdout), &report); err != nil {
				t.Fatalf("np doctor --json: %v\n%s", err, doc.stdout)
			}
			avail := map[string]bool{}
			for _, rt := range report.Runtimes {
				avail[rt.Name] = rt.Available
			}
			if report.Auto != ran || !avail[ran] || avail["ns"] != c.eng().nsWorks {
				t.Errorf("np doctor says auto=%s, ns=%v, ptrace=%v; what ran was %s (ns works: %v)", report.Auto, avail["ns"], avail["ptrace"], ran, c.eng().nsWorks)
			}
		})
	}
}

// TestAVolumeDataDirIsReusedAndShared: a second container on the same named
// volume starts without installing again, and two containers starting at
// once on a fresh volume both work and leave one sound store.
func TestAVolumeDataDirIsReusedAndShared(t *testing.T) {
	c := containerCases[0]
	t.Run("reused", func(t *testing.T) {
		vol := []string{"-v", volume(t) + ":/data", "-e", "NP_LOCATION=/data", "-e", "NP_DEBUG=1"}
		first := c.run(t, imageAlone, vol, "nix-store", "--version")
		if first.code != 0 || !strings.Contains(first.stderr, "installed Nix") {
			t.Fatalf("first container: exit %d, want an install\n%s", first.code, first.stderr)
		}
		second := c.run(t, imageAlone, vol, "nix-store", "--version")
		if second.code != 0 {
			t.Fatalf("second container: exit %d\n%s", second.code, second.stderr)
		}
		if strings.Contains(second.stderr, "installed Nix") {
			t.Errorf("the second container on the volume installed again:\n%s", second.stderr)
		}
		if second.took >= first.took {
			t.Logf("note: second start %v not faster than the first %v", second.took, first.took)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		vol := []string{"-v", volume(t) + ":/data", "-e", "NP_LOCATION=/data"}
		var wg sync.WaitGroup
		results := make([]dockerResult, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = c.run(t, imageAlone, vol, "nix-build", "--no-out-link", "-E", offlineExpr(fmt.Sprintf("both-%d", i)))
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 || !strings.HasPrefix(strings.TrimSpace(r.stdout), "/nix/store/") {
				t.Errorf("container %d of two at once: exit %d\n%s\n%s", i, r.code, r.stdout, r.stderr)
			}
		}
		if r := c.run(t, imageAlone, vol, "nix-store", "--verify", "--check-contents"); r.code != 0 {
			t.Errorf("the shared store does not verify after two concurrent first runs: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestNpAsTheContainersInit: np is the entrypoint, so it is PID 1. docker
// stop's SIGTERM must reach the program and the container must end with the
// program's status, orphans re-parented to np must be reaped, and -t must
// give the program a working terminal.
func TestNpAsTheContainersInit(t *testing.T) {
	for _, c := range []containerCase{containerCases[0], containerCases[1]} {
		t.Run(c.name+"/stop", func(t *testing.T) {
			name := fmt.Sprintf("np-stop-%d", time.Now().UnixNano())
			args := append([]string{"run", "-d", "--name", name, "--network", "none"}, c.flags...)
			args = append(args, imageAlone, "run", "sh", "-c", `trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done`)
			if r := docker(t, args...); r.code != 0 {
				t.Fatalf("docker run -d: %s", r.stderr)
			}
			defer docker(t, "rm", "-f", name)
			deadline := time.Now().Add(60 * time.Second)
			for !strings.Contains(docker(t, "logs", name).stdout, "ready") {
				if time.Now().After(deadline) {
					t.Fatalf("the program never started:\n%s", docker(t, "logs", name).stderr)
				}
				time.Sleep(200 * time.Millisecond)
			}
			stop := docker(t, "stop", "-t", "20", name)
			if stop.code != 0 {
				t.Fatalf("docker stop: %s", stop.stderr)
			}
			code := strings.TrimSpace(docker(t, "inspect", "-f", "{{.State.ExitCode}}", name).stdout)
			if code != "7" {
				t.Errorf("container exit status %s after docker stop, want the program's 7 (SIGTERM must reach it)", code)
			}
			if stop.took > 10*time.Second {
				t.Errorf("docker stop took %v: SIGTERM did not end the program, docker had to kill it", stop.took)
			}
			if !strings.Contains(docker(t, "logs", name).stdout, "got-term") {
				t.Errorf("the program's trap never ran")
			}
		})
		t.Run(c.name+"/orphans", func(t *testing.T) {
			// The inner sh exits at once; its sleep becomes np's child.
			// Once it exits, nothing may stay a zombie.
			r := c.run(t, imageAlone, nil, "run", "sh", "-c",
				`sh -c 'sleep 0.3 &'; sleep 1.5; ps -o pid,stat,comm`)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			for _, l := range strings.Split(r.stdout, "\n") {
				f := strings.Fields(l)
				if len(f) >= 2 && strings.HasPrefix(f[1], "Z") {
					t.Errorf("an orphan was left a zombie under np as PID 1:\n%s", r.stdout)
				}
			}
			if !strings.Contains(r.stdout, "ps") {
				t.Errorf("ps printed nothing useful:\n%s", r.stdout)
			}
		})
		t.Run(c.name+"/tty", func(t *testing.T) {
			r := c.run(t, imageAlone, []string{"-t"}, "run", "sh", "-c", `[ -t 0 ] && [ -t 1 ] && tty && stty size`)
			out := strings.ReplaceAll(r.stdout, "\r", "")
			if r.code != 0 || !strings.Contains(out, "/dev/pts/") {
				t.Errorf("docker run -t: the program has no working terminal: exit %d\n%q\n%s", r.code, out, r.stderr)
			}
		})
	}
}

// TestNpBesideABusybox: an image with a shell of its own, np called from
// the image's script rather than as the entrypoint.
func TestNpBesideABusybox(t *testing.T) {
	c := containerCases[1]
	r := c.run(t, imageBusybox, []string{"--entrypoint", "/bin/sh"}, "-c",
		"out=$(/np nix-build --no-out-link -E '"+offlineExpr("busybox-image")+"') && /np run cat $out && /np run ls / && /np nix-store --verify --check-contents")
	if r.code != 0 || !strings.Contains(r.stdout, "built-in-a-container") || !hasLine(r.stdout, "nix") {
		t.Fatalf("np from the image's own shell: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestAUserWithoutAHomeGetsOneLine: --user without HOME (Docker sets HOME=/
// for a uid with no passwd entry, which that user cannot write) fails before
// installing, with the cause and the fix.
func TestAUserWithoutAHomeGetsOneLine(t *testing.T) {
	r := docker(t, "run", "--rm", "--network", "none", "--user", "1000:1000", imageAlone, "nix-build", "--version")
	if r.code != 125 {
		t.Fatalf("exit %d, want 125\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "NP_LOCATION") && !strings.Contains(lines[0], "HOME") {
		t.Errorf("want one line naming HOME or NP_LOCATION, got:\n%s", r.stderr)
	}
}

func hasLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}
