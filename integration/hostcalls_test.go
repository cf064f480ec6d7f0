//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Hosts that refuse the calls np's runtimes use beyond the essentials, one
// family each, as a real Docker 20.10 engine's default profile does (all
// three, measured in a container of the real engine) on top of refusing
// new namespaces.
var (
	noUnshareHost    = hostileHost{name: "no-unshare", filters: []string{"no-unshare"}}
	noProcessVMHost  = hostileHost{name: "no-process-vm", filters: []string{"no-process-vm"}}
	noPidfdGetfdHost = hostileHost{name: "no-pidfd-getfd", filters: []string{"no-pidfd-getfd"}}
	docker2010Host   = dockerHost.with("docker-20.10-default-profile", "no-unshare", "no-process-vm", "no-pidfd-getfd")
)

// TestRuntimeWorksWithoutOptionalSystemCalls: with each optional call
// refused, the pass's runtime still installs from scratch, builds, lists
// nix in /, keeps the store's contents right, makes files with the
// caller's umask, and doctor says the runtime works. The Docker 20.10
// host refuses namespaces too, so it runs where auto picks ptrace.
//
//np:kernel-set hostile
func TestRuntimeWorksWithoutOptionalSystemCalls(t *testing.T) {
	hosts := []hostileHost{noUnshareHost, noProcessVMHost, noPidfdGetfdHost}
	if pass != "ns" {
		hosts = append(hosts, docker2010Host)
	}
	for _, h := range hosts {
		t.Run(h.name, func(t *testing.T) {
			loc := newLocation(t)
			o := runOpts{loc: loc}
			if h.name == docker2010Host.name {
				o.auto = true
			}
			checkRuntimeWorks(t, h, o)
		})
	}
}

// checkRuntimeWorks: in host h, np (with o.loc a fresh data dir) installs
// from scratch, builds offline,
// lists nix in /, keeps the store's contents right, makes files with the
// caller's umask, and doctor says the runtime works: the pass's runtime,
// or ptrace where o.auto lets np choose (and doctor must choose ptrace).
func checkRuntimeWorks(t *testing.T, h hostileHost, o runOpts) {
	t.Helper()
	expr := `derivation { name = "refused-calls"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built > $out"]; }`
	out := strings.TrimSpace(must(t, h.np(t, o, "nix-build", "--no-out-link", "-E", expr)))
	data, err := os.ReadFile(filepath.Join(o.loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if !strings.HasPrefix(out, "/nix/store/") || err != nil || string(data) != "built\n" {
		t.Fatalf("nix-build printed %q; output in the data dir %q (%v)", out, data, err)
	}
	if ls := must(t, h.np(t, o, "run", "ls", "/")); !containsLine(ls, "nix") {
		t.Fatalf("ls / does not list nix:\n%s", ls)
	}
	v := h.np(t, o, "nix-store", "--verify", "--check-contents")
	if v.code != 0 || strings.Contains(v.stderr, "modified") || strings.Contains(v.stderr, "error") {
		t.Fatalf("nix-store --verify --check-contents: exit %d\n%s", v.code, v.stderr)
	}
	// Files and directories made under /nix get the caller's umask
	// (the notification server makes them for the caller).
	script := `cd /nix/var && umask 077 && mkdir d1 && : > f1 && umask 000 && mkdir d2 && : > f2 && ln -s f2 l && ` +
		`stat -c '%n %a' d1 f1 d2 f2 && rm -r d1 d2 f1 f2 l`
	got := must(t, h.np(t, o, "run", "sh", "-c", script))
	if want := "d1 700\nf1 600\nd2 777\nf2 666\n"; got != want {
		t.Fatalf("modes made under /nix:\n%s\nwant:\n%s", got, want)
	}
	doc := h.np(t, o, "doctor", "--json")
	auto, runtimes := doctorJSON(t, doc)
	rt := strings.TrimSuffix(pass, "-noseccomp")
	if o.auto {
		rt = "ptrace"
		if auto != "ptrace" {
			t.Errorf("doctor --json: auto %q, want ptrace", auto)
		}
	}
	if doc.code != 0 || !runtimes[rt].Available {
		t.Fatalf("doctor --json: exit %d, %s %+v; want exit 0 and %s working:\n%s", doc.code, rt, runtimes[rt], rt, doc.stdout)
	}
}

// Hosts under the container engines' own default seccomp profiles, compiled
// from their JSON as the engine and runc would (hostile's oci:* filters;
// make profiles fetches them): Docker's current engine and Podman, for a
// container with the default capabilities and with CAP_SYS_PTRACE added;
// and Docker 20.10's, compiled, beside docker2010Host's hand-made filters
// (what a real 20.10 container was measured to refuse). Docker's refuse
// new namespaces; Podman's leaves them to the kernel.
var engineHosts = []hostileHost{
	{name: "docker-20.10", filters: []string{"oci:docker-20.10"}},
	{name: "docker-current", filters: []string{"oci:docker-current"}},
	{name: "docker-current+ptrace", filters: []string{"oci:docker-current+ptrace"}},
	{name: "podman", filters: []string{"oci:podman"}},
	{name: "podman+ptrace", filters: []string{"oci:podman+ptrace"}},
}

// TestRuntimeWorksUnderEngineProfiles: under each engine's profile np
// works as it does under Docker 20.10's. Under Docker's, the ns pass lets
// np choose (it must fall back to ptrace) and the ptrace passes force
// theirs; under Podman's every pass forces its runtime.
func TestRuntimeWorksUnderEngineProfiles(t *testing.T) {
	for _, h := range engineHosts {
		t.Run(h.name, func(t *testing.T) {
			o := runOpts{loc: newLocation(t)}
			if pass == "ns" && strings.HasPrefix(h.name, "docker-") {
				o.auto = true
			}
			checkRuntimeWorks(t, h, o)
		})
	}
}

// TestNotificationsSurviveARefusedPidfdGetfd: the ptrace runtime still
// answers calls by notification where pidfd_getfd is refused (the listener
// reaches the tracer over a socket), rather than quietly making every
// call a ptrace stop.
//
//np:kernel-set hostile-notify
func TestNotificationsSurviveARefusedPidfdGetfd(t *testing.T) {
	if pass != "ptrace" {
		t.Fatalf("runs in the ptrace pass only (onePass)")
	}
	r := noPidfdGetfdHost.np(t, runOpts{env: []string{"NP_DEBUG=1"}}, "run", "sh", "-c", "for i in 1 2 3 4 5; do stat /nix/store >/dev/null; done")
	must(t, r)
	stops, notes, _ := ptraceCounts(r.stderr)
	if notes < 5 {
		t.Fatalf("%d notifications (%d stops) with pidfd_getfd refused; want the stats answered by notification:\n%s", notes, stops, r.stderr)
	}
}

// TestSeccompWithoutNotifications: NP_PTRACE_NO_NOTIFY=1 keeps the seccomp
// filter but answers every filtered call at a ptrace stop, as np does on
// kernels before 5.0 (RHEL 7 and 8): builds, / and the store still work,
// and no call went through a notification.
func TestSeccompWithoutNotifications(t *testing.T) {
	if pass != "ptrace" {
		t.Fatalf("runs in the ptrace pass only (onePass)")
	}
	o := runOpts{loc: newLocation(t), env: []string{"NP_DEBUG=1", "NP_PTRACE_NO_NOTIFY=1"}}
	expr := `derivation { name = "no-notify"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built > $out"]; }`
	out := strings.TrimSpace(must(t, np(t, o, "nix-build", "--no-out-link", "-E", expr)))
	if !strings.HasSuffix(out, "-no-notify") {
		t.Fatalf("nix-build printed %q", out)
	}
	r := np(t, o, "run", "sh", "-c", "ls /; for i in 1 2 3 4 5; do stat /nix/store >/dev/null; done")
	if !containsLine(must(t, r), "nix") {
		t.Fatalf("ls / does not list nix:\n%s", r.stdout)
	}
	stops, notes, seccomp := ptraceCounts(r.stderr)
	if notes != 0 || !seccomp || stops < 5 {
		t.Fatalf("%d stops, %d notifications, seccomp=%v; want the stats at ptrace stops under the filter, none notified:\n%s", stops, notes, seccomp, r.stderr)
	}
	if v := np(t, o, "nix-store", "--verify", "--check-contents"); v.code != 0 {
		t.Fatalf("nix-store --verify --check-contents: exit %d\n%s", v.code, v.stderr)
	}
}

// ptraceCounts reads the last "ptrace: N stops (…), M notifications,
// seccomp=B" line NP_DEBUG=1 printed: the program's own run.
func ptraceCounts(stderr string) (stops, notes int, seccomp bool) {
	for _, l := range strings.Split(stderr, "\n") {
		i := strings.Index(l, "ptrace: ")
		if i < 0 || !strings.Contains(l, " notifications,") {
			continue
		}
		fmt.Sscanf(l[i:], "ptrace: %d stops", &stops)
		if j := strings.Index(l, "), "); j >= 0 {
			fmt.Sscanf(l[j+3:], "%d notifications", &notes)
		}
		seccomp = strings.HasSuffix(strings.TrimSpace(l), "seccomp=true")
	}
	return stops, notes, seccomp
}

// TestNotificationServerPanicEndsTheRun: a bug in the notification server
// (a panic while it answers a call, made here by a test hook) must never
// let that call run untranslated, where it would reach the host's file
// instead of the data dir's. np ends the traced tree and says so in one
// line with exit 125; nothing the program does after that call runs.
func TestNotificationServerPanicEndsTheRun(t *testing.T) {
	if pass != "ptrace" {
		t.Fatalf("runs in the ptrace pass only (onePass)")
	}
	loc := sharedLocation(t)
	probe := np(t, runOpts{loc: loc, env: []string{"NP_DEBUG=1"}}, "run", "sh", "-c", "stat /nix >/dev/null")
	if _, notes, _ := ptraceCounts(must(t, probe) + probe.stderr); notes == 0 {
		t.Fatalf("the stat went through no notification on this host, so the hook cannot fire:\n%s", probe.stderr)
	}
	r := np(t, runOpts{loc: loc, env: []string{"NP_TEST_PANIC_IN_NOTIFY=newfstatat"}}, "run", "sh", "-c", "stat /nix >/dev/null; echo after")
	if r.code != 125 {
		t.Fatalf("exit %d, want 125\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "after") {
		t.Fatalf("the program went on after the call the server could not answer:\n%s", r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "np: ") || !strings.Contains(lines[0], "internal error in the notification server") {
		t.Fatalf("want one np: line naming the internal error, got:\n%s", r.stderr)
	}
}
