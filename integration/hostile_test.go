//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/np-portable/np/internal/hostile"
)

func init() {
	// The test binary doubles as a launcher that builds a host refusing
	// system calls: NP_TEST_HOSTILE names hostile.Filters to stack, then it
	// execs its arguments (np and np's arguments).
	if filters := os.Getenv("NP_TEST_HOSTILE"); filters != "" {
		os.Unsetenv("NP_TEST_HOSTILE")
		err := hostile.ExecUnderFilters(strings.Split(filters, ","), os.Args[1:], os.Environ())
		os.Stderr.WriteString("hostile launcher: " + err.Error() + "\n")
		os.Exit(99)
	}
}

// hostileHost is a kind of host np must cope with, built around one np
// command without privileges.
type hostileHost struct {
	name string
	// noUserNS: user.max_user_namespaces is 0, like CentOS/RHEL 7's default.
	// Built as a user namespace of our own (we are root in it) whose limit
	// is set to 0, so np, inside, can create none.
	noUserNS bool
	filters  []string // hostile.Filters to stack, innermost last
	nsCause  string   // the ns runtime's cause word in np doctor --json
	nsText   string   // how np doctor's text explains it
}

var (
	noUserNSHost = hostileHost{name: "max_user_namespaces=0", noUserNS: true,
		nsCause: "max_user_namespaces", nsText: "user.max_user_namespaces is 0"}
	dockerHost = hostileHost{name: "docker-seccomp", filters: []string{"no-userns"},
		nsCause: "seccomp", nsText: "a seccomp filter on"}
	// CentOS 7: a 3.10 kernel, user namespaces off.
	centos7Host = hostileHost{name: "linux-3.10-no-userns", noUserNS: true, filters: []string{"linux-3.10"},
		nsCause: "max_user_namespaces", nsText: "user.max_user_namespaces is 0"}
)

// with is the host with more filters stacked on.
func (h hostileHost) with(name string, filters ...string) hostileHost {
	h.name = name
	h.filters = append(append([]string(nil), h.filters...), filters...)
	return h
}

// np runs np with args in the hostile host.
func (h hostileHost) np(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	cmd := npCmd(t, o, args...)
	argv := append([]string{npBin}, args...)
	if len(h.filters) > 0 {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		argv = append([]string{self}, argv...)
		cmd.Env = append(cmd.Env, "NP_TEST_HOSTILE="+strings.Join(h.filters, ","))
	}
	if h.noUserNS {
		script := `echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"`
		argv = append([]string{lookPath(t, "unshare"), "--user", "--map-root-user", "sh", "-c", script, "sh"}, argv...)
	}
	cmd.Path, cmd.Args = argv[0], argv
	return runResult(t, cmd)
}

func lookPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to build a hostile host: %v", name, err)
	}
	return p
}

func runResult(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("could not start %v", cmd.Args)
	}
	if cmd.ProcessState.ExitCode() == 99 {
		t.Fatalf("could not build the hostile host: %s", errb.String())
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// doctorRuntime is one runtime's entry in np doctor --json.
type doctorRuntime struct {
	Name      string
	Available bool
	Cause     string
	Detail    string
}

// doctorJSON reads np doctor --json's choice and its runtimes by name.
func doctorJSON(t *testing.T, r result) (auto string, runtimes map[string]doctorRuntime) {
	t.Helper()
	var report struct {
		Auto     string
		Runtimes []doctorRuntime
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("doctor --json printed no JSON (%v):\n%s\n%s", err, r.stdout, r.stderr)
	}
	runtimes = map[string]doctorRuntime{}
	for _, rt := range report.Runtimes {
		runtimes[rt.Name] = rt
	}
	for _, name := range []string{"native", "ns", "ptrace"} {
		if _, ok := runtimes[name]; !ok {
			t.Fatalf("doctor --json lists no %s runtime:\n%s", name, r.stdout)
		}
	}
	return report.Auto, runtimes
}

// TestForcedNSRuntimeInHostileHosts: with NP_RUNTIME=ns, a host that
// refuses user namespaces gets one line naming the cause, before anything
// is unpacked, whether np is installed already or not; np doctor names the
// cause in words for scripts and in a sentence for people.
//
//np:kernel-set hostile-userns
func TestForcedNSRuntimeInHostileHosts(t *testing.T) {
	for _, h := range []hostileHost{noUserNSHost, dockerHost, centos7Host} {
		t.Run(h.name, func(t *testing.T) {
			fresh := newLocation(t)
			for name, loc := range map[string]string{"installed": sharedLocation(t), "first run": fresh} {
				r := h.np(t, runOpts{loc: loc, env: []string{"NP_RUNTIME=ns"}}, "run", "true")
				if r.code != 125 || !strings.HasPrefix(r.stderr, "np: ") || !strings.Contains(r.stderr, h.nsCause) && !strings.Contains(r.stderr, h.nsText) {
					t.Fatalf("%s: exit %d stderr %q; want 125 and a message naming %s", name, r.code, r.stderr, h.nsCause)
				}
				if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%s: message is not one line:\n%s", name, r.stderr)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(fresh, ".nix-portable", "nix", "store")); len(entries) != 0 {
				t.Fatalf("a first run without a working runtime unpacked %d store paths", len(entries))
			}
			_, runtimes := doctorJSON(t, h.np(t, runOpts{loc: fresh}, "doctor", "--json"))
			if ns := runtimes["ns"]; ns.Available || ns.Cause != h.nsCause {
				t.Fatalf("doctor --json says ns available=%v cause %q, want cause %q", ns.Available, ns.Cause, h.nsCause)
			}
			if text := h.np(t, runOpts{loc: fresh}, "doctor"); !strings.Contains(text.stdout, h.nsText) {
				t.Fatalf("doctor's text does not say %q:\n%s", h.nsText, text.stdout)
			}
			// Pinned to the runtime that cannot work, every command fails:
			// so must doctor, whatever auto would pick.
			if d := h.np(t, runOpts{loc: fresh, env: []string{"NP_RUNTIME=ns"}}, "doctor"); d.code != 1 {
				t.Fatalf("doctor under NP_RUNTIME=ns exits %d where ns cannot work, want 1:\n%s", d.code, d.stdout)
			}
		})
	}
}

// TestHostileHostsFallBackToPtrace: where user namespaces are refused, auto
// falls back to ptrace, from the first install on, and Nix works: a build,
// the store's contents, and `ls /` showing /nix.
//
//np:kernel-set hostile-userns
func TestHostileHostsFallBackToPtrace(t *testing.T) {
	for _, h := range []hostileHost{noUserNSHost, dockerHost, centos7Host} {
		t.Run(h.name, func(t *testing.T) {
			loc := newLocation(t)
			o := runOpts{loc: loc, auto: true}
			expr := `derivation { name = "fallback"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built-by-fallback > $out"]; }`
			r := h.np(t, o, "nix-build", "--no-out-link", "-E", expr)
			out := strings.TrimSpace(must(t, r))
			if !strings.HasPrefix(out, "/nix/store/") {
				t.Fatalf("nix-build printed %q", out)
			}
			data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
			if err != nil || string(data) != "built-by-fallback\n" {
				t.Fatalf("build output in the data dir: %q (%v)", data, err)
			}
			if ls := must(t, h.np(t, o, "run", "ls", "/")); !containsLine(ls, "nix") {
				t.Fatalf("ls / does not list nix:\n%s", ls)
			}
			v := h.np(t, o, "nix-store", "--verify", "--check-contents")
			if v.code != 0 || strings.Contains(v.stderr, "modified") || strings.Contains(v.stderr, "error") {
				t.Fatalf("nix-store --verify --check-contents: exit %d\n%s", v.code, v.stderr)
			}
			doc := h.np(t, o, "doctor", "--json")
			auto, runtimes := doctorJSON(t, doc)
			if doc.code != 0 || auto != "ptrace" || !runtimes["ptrace"].Available {
				t.Fatalf("doctor --json: exit %d, auto %q, ptrace %+v; want exit 0 and auto picking ptrace:\n%s", doc.code, auto, runtimes["ptrace"], doc.stdout)
			}
			if ns := runtimes["ns"]; ns.Available || ns.Cause != h.nsCause {
				t.Fatalf("doctor --json says ns available=%v cause %q, want cause %q", ns.Available, ns.Cause, h.nsCause)
			}
			if text := h.np(t, o, "doctor"); !strings.Contains(text.stdout, h.nsText) || !strings.Contains(text.stdout, "auto picks: ptrace") {
				t.Fatalf("doctor's text does not say %q and that auto picks ptrace:\n%s", h.nsText, text.stdout)
			}
		})
	}
}

// TestHostRefusingPtraceToo: no user namespaces and no ptrace leave no
// runtime; one line names both causes, exit 125, nothing unpacked.
//
//np:kernel-set hostile-userns
func TestHostRefusingPtraceToo(t *testing.T) {
	for _, h := range []hostileHost{dockerHost.with("docker-seccomp-no-ptrace", "no-ptrace"), centos7Host.with("linux-3.10-no-userns-no-ptrace", "no-ptrace")} {
		t.Run(h.name, func(t *testing.T) {
			loc := newLocation(t)
			o := runOpts{loc: loc, auto: true}
			r := h.np(t, o, "run", "true")
			msg := strings.TrimSpace(r.stderr)
			if r.code != 125 || !strings.HasPrefix(msg, "np: ") || strings.Contains(msg, "\n") {
				t.Fatalf("exit %d stderr %q; want 125 and one np: line", r.code, r.stderr)
			}
			if !strings.Contains(msg, h.nsCause) && !strings.Contains(msg, h.nsText) || !strings.Contains(msg, "ptrace") {
				t.Fatalf("the message does not name both causes (%s, and ptrace refused): %q", h.nsCause, msg)
			}
			if entries, _ := os.ReadDir(filepath.Join(loc, ".nix-portable", "nix", "store")); len(entries) != 0 {
				t.Fatalf("a first run without a working runtime unpacked %d store paths", len(entries))
			}
			doc := h.np(t, o, "doctor", "--json")
			auto, runtimes := doctorJSON(t, doc)
			if doc.code != 1 || auto != "" {
				t.Fatalf("doctor --json: exit %d auto %q; want exit 1 and no runtime:\n%s", doc.code, auto, doc.stdout)
			}
			if ns := runtimes["ns"]; ns.Available || ns.Cause != h.nsCause {
				t.Errorf("doctor --json says ns available=%v cause %q, want cause %q", ns.Available, ns.Cause, h.nsCause)
			}
			// A seccomp filter refuses ptrace here, which is what the cause says.
			if pt := runtimes["ptrace"]; pt.Available || pt.Cause != "seccomp" {
				t.Errorf("doctor --json says ptrace available=%v cause %q, want cause seccomp", pt.Available, pt.Cause)
			}
		})
	}
}

func TestDoctorOnAGoodHost(t *testing.T) {
	r := np(t, runOpts{auto: true}, "doctor", "--json")
	auto, runtimes := doctorJSON(t, r)
	if r.code != 0 || auto != "ns" || !runtimes["ns"].Available || runtimes["ns"].Cause != "" {
		t.Fatalf("doctor --json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// containsLine says whether text has line as one of its lines.
func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// TestRootInAUserNamespaceBuildsSandboxed is np run by root in a container
// without real privileges: uid 0, but only inside a user namespace.
//
//np:kernel-set hostile
func TestRootInAUserNamespaceBuildsSandboxed(t *testing.T) {
	loc := newLocation(t)
	expr := `derivation { name = "as-root"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo root-ok > $out"]; }`
	cmd := npCmd(t, runOpts{loc: loc}, "nix-build", "--no-out-link", "--option", "sandbox", "true", "-E", expr)
	cmd.Args = append([]string{"unshare", "--user", "--map-root-user", npBin}, cmd.Args[1:]...)
	cmd.Path = lookPath(t, "unshare")
	r := runResult(t, cmd)
	conf, _ := os.ReadFile(filepath.Join(loc, ".nix-portable", "conf", "build-sandbox.ns"))
	if _, err := os.Stat("/proc/sys/user/max_user_namespaces"); os.IsNotExist(err) {
		// Before Linux 4.9 (4.4.178 in make kernels) Nix refuses its
		// sandbox: its check reads that sysctl. np's probe finds it off
		// and says why; the build the user forced fails with Nix's error.
		if r.code == 0 || !strings.HasPrefix(string(conf), "false\n") || !strings.Contains(string(conf), "which Linux 4.9 added and Nix's sandbox requires") {
			t.Fatalf("a forced sandbox before Linux 4.9: exit %d (want Nix's refusal), probe record:\n%s\nstderr:\n%s", r.code, conf, r.stderr)
		}
		return
	}
	if r.code != 0 {
		t.Fatalf("sandboxed build as root in a user namespace: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(string(conf), "true\n") {
		t.Fatalf("the probe found no working build sandbox for root:\n%s", conf)
	}
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(strings.TrimSpace(r.stdout))))
	if err != nil || string(data) != "root-ok\n" {
		t.Fatalf("build output %q (%v)", data, err)
	}
}
