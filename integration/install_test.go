//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestFirstRunInstallsAndSecondRunDoesNot(t *testing.T) {
	loc := newLocation(t)
	first := np(t, runOpts{loc: loc, env: []string{"NP_DEBUG=1"}}, "nix", "--version")
	if got := strings.TrimSpace(must(t, first)); got != "nix (Nix) "+nixVersion {
		t.Fatalf("np nix --version printed %q, want %q", got, "nix (Nix) "+nixVersion)
	}
	if !strings.Contains(first.stderr, "installing payload") {
		t.Fatalf("first run did not report installing; stderr:\n%s", first.stderr)
	}
	if recs := installRecords(loc); len(recs) != 1 {
		t.Fatalf("install records after the first run: %v, want one", recs)
	}
	second := np(t, runOpts{loc: loc, env: []string{"NP_DEBUG=1"}}, "nix", "--version")
	if got := strings.TrimSpace(must(t, second)); got != "nix (Nix) "+nixVersion {
		t.Fatalf("second run printed %q", got)
	}
	if strings.Contains(second.stderr, "installing payload") {
		t.Fatalf("second run installed again; stderr:\n%s", second.stderr)
	}
	conf, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "conf", "nix.conf"))
	if err != nil {
		t.Fatalf("nix.conf missing: %v", err)
	}
	for _, want := range []string{"experimental-features = nix-command flakes", "build-users-group =\n", "sandbox-paths = /bin/sh=/nix/store/", "ignored-acls = security.selinux system.nfs4_acl"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nix.conf lacks %q:\n%s", want, conf)
		}
	}
}

func TestNixBuildPutsOutputInDataDirStore(t *testing.T) {
	loc := sharedLocation(t)
	expr := `derivation { name = "x"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo hi > $out"]; }`
	out := strings.TrimSpace(must(t, np(t, runOpts{}, "nix-build", "--no-out-link", "-E", expr)))
	if !regexp.MustCompile(`^/nix/store/[0-9a-z]{32}-x$`).MatchString(out) {
		t.Fatalf("nix-build printed %q, want a /nix/store/...-x path", out)
	}
	host := filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out))
	data, err := os.ReadFile(host)
	if err != nil {
		t.Fatalf("build output is not in the data dir's store: %v", err)
	}
	if string(data) != "hi\n" {
		t.Fatalf("build output holds %q, want %q", data, "hi\n")
	}
}

func TestBuildWithoutSandbox(t *testing.T) {
	loc := sharedLocation(t)
	expr := `derivation { name = "unsandboxed"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "test -d /home && echo outside > $out"]; }`
	out := strings.TrimSpace(must(t, np(t, runOpts{}, "nix-build", "--no-out-link", "--option", "sandbox", "false", "-E", expr)))
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil || string(data) != "outside\n" {
		t.Fatalf("unsandboxed build output %q (%v)", data, err)
	}
}

// TestBuildSandboxWorksUnderNS: where the ns runtime works (this machine,
// in the ns pass), Nix's own build sandbox works inside it, and the
// install's probe recorded so: a sandboxed build does not see the host.
func TestBuildSandboxWorksUnderNS(t *testing.T) {
	loc := sharedLocation(t)
	conf, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "conf", "build-sandbox.ns"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(conf), "true\n") {
		t.Fatalf("the build-sandbox probe found no working sandbox under ns, where user namespaces work:\n%s", conf)
	}
	expr := `derivation { name = "sandboxed"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "test ! -e /home && echo inside > $out"]; }`
	out := strings.TrimSpace(must(t, np(t, runOpts{}, "nix-build", "--no-out-link", "-E", expr)))
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil || string(data) != "inside\n" {
		t.Fatalf("sandboxed build output %q (%v)", data, err)
	}
}

func TestVerifyAfterInstallAndGarbageCollectionKeepsNp(t *testing.T) {
	loc := newLocation(t)
	if v := np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"); v.code != 0 || strings.Contains(v.stderr, "modified") || strings.Contains(v.stderr, "error") {
		t.Fatalf("nix-store --verify --check-contents reported problems: exit %d\n%s", v.code, v.stderr)
	}
	must(t, np(t, runOpts{loc: loc}, "nix-collect-garbage"))
	if got := strings.TrimSpace(must(t, np(t, runOpts{loc: loc}, "nix", "--version"))); got != "nix (Nix) "+nixVersion {
		t.Fatalf("after garbage collection np nix --version printed %q", got)
	}
	must(t, np(t, runOpts{loc: loc}, "nix-store", "--verify", "--check-contents"))
}

func TestConcurrentFirstRunsShareOneInstall(t *testing.T) {
	loc := newLocation(t)
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = np(t, runOpts{loc: loc, env: []string{"NP_DEBUG=1"}}, "nix", "--version")
		}()
	}
	wg.Wait()
	installs := 0
	for i, r := range results {
		if got := strings.TrimSpace(must(t, r)); got != "nix (Nix) "+nixVersion {
			t.Fatalf("run %d printed %q", i, got)
		}
		installs += strings.Count(r.stderr, "installing payload")
	}
	if installs != 1 {
		t.Fatalf("%d concurrent first runs installed %d times, want once", len(results), installs)
	}
}

func TestBareBinarySaysItCarriesNoNix(t *testing.T) {
	loc := newLocation(t)
	r := np(t, runOpts{loc: loc, bin: bareBin}, "nix", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "carries no Nix") || !strings.Contains(r.stderr, "make") {
		t.Fatalf("bare np: exit %d, stderr %q; want 125 and a message naming `make`", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(loc, ".nix-portable", "nix", "store")); err == nil {
		t.Fatal("bare np created a store")
	}
}

func TestCorruptPayloadLeavesNoCompleteLookingStore(t *testing.T) {
	data, err := os.ReadFile(npBin)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte in the middle of the payload (the payload is the last
	// tens of MB before the trailer).
	data[len(data)-5_000_000] ^= 0xff
	bad := filepath.Join(t.TempDir(), "np")
	if err := os.WriteFile(bad, data, 0o755); err != nil {
		t.Fatal(err)
	}
	loc := newLocation(t)
	r := np(t, runOpts{loc: loc, bin: bad}, "nix", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "np: ") {
		t.Fatalf("corrupt payload: exit %d, stderr %q; want 125 and an np: message", r.code, r.stderr)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("error is not one line:\n%s", r.stderr)
	}
	if recs := installRecords(loc); len(recs) != 0 {
		t.Fatalf("a failed install left an install record behind: %v", recs)
	}
	entries, _ := os.ReadDir(filepath.Join(loc, ".nix-portable", "nix", "store"))
	if len(entries) != 0 {
		t.Fatalf("a failed install left store paths behind: %v", entries)
	}
	// The good binary then installs over the remains.
	if got := strings.TrimSpace(must(t, np(t, runOpts{loc: loc}, "nix", "--version"))); got != "nix (Nix) "+nixVersion {
		t.Fatalf("good np after a failed install printed %q", got)
	}
}

func TestHostLibraryVariablesDoNotBreakNix(t *testing.T) {
	r := np(t, runOpts{env: []string{"LD_LIBRARY_PATH=/nonexistent:/usr/lib/x86_64-linux-gnu", "LD_PRELOAD=/nonexistent/libnothing.so"}}, "nix", "--version")
	if got := strings.TrimSpace(must(t, r)); got != "nix (Nix) "+nixVersion {
		t.Fatalf("printed %q", got)
	}
}

func TestUserStoreSettingDoesNotBreakNp(t *testing.T) {
	cfg := t.TempDir()
	os.MkdirAll(filepath.Join(cfg, "nix"), 0o755)
	os.WriteFile(filepath.Join(cfg, "nix", "nix.conf"), []byte("store = /nonexistent/elsewhere\n"), 0o644)
	expr := `derivation { name = "y"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo y > $out"]; }`
	out := strings.TrimSpace(must(t, np(t, runOpts{env: []string{"XDG_CONFIG_HOME=" + cfg}}, "nix-build", "--no-out-link", "-E", expr)))
	if !strings.HasPrefix(out, "/nix/store/") {
		t.Fatalf("nix-build printed %q", out)
	}
}

func TestUnwritableLocationNamesTheFix(t *testing.T) {
	r := np(t, runOpts{loc: "/"}, "nix", "--version")
	if r.code != 125 || !strings.HasPrefix(r.stderr, "np: ") || !strings.Contains(r.stderr, "set NP_LOCATION to a writable directory") {
		t.Fatalf("exit %d stderr %q; want 125 and a message naming NP_LOCATION", r.code, r.stderr)
	}
}

func TestDataDirOthersCanWriteIsRefused(t *testing.T) {
	loc := newLocation(t)
	dataDir := filepath.Join(loc, ".nix-portable")
	os.Mkdir(dataDir, 0o755)
	os.Chmod(dataDir, 0o777)
	r := np(t, runOpts{loc: loc}, "nix", "--version")
	if r.code != 125 || !strings.Contains(r.stderr, "writable by everyone") || !strings.Contains(r.stderr, "NP_LOCATION") {
		t.Fatalf("exit %d stderr %q; want 125 and a message naming the fix", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "nix")); err == nil {
		t.Fatal("np installed into a world-writable data dir")
	}
}

func TestVersionAndDoctorLeaveNoTrace(t *testing.T) {
	loc := filepath.Join(newLocation(t), "not-yet")
	// Before any install, --version names the Nix np carries (from its
	// payload), which must be Nix 2.34 or newer (issue 22).
	if out := must(t, np(t, runOpts{loc: loc}, "--version")); !containsLine(out, "nix (Nix) "+nixVersion) || !atLeastNix234(nixVersion) {
		t.Errorf("np --version before the first run printed %q; want the payload's Nix %s, 2.34 or newer", out, nixVersion)
	}
	if r := np(t, runOpts{loc: loc}, "doctor"); r.code != 0 {
		t.Fatalf("doctor: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(loc); err == nil {
		t.Fatal("np --version or np doctor created NP_LOCATION")
	}
}

// atLeastNix234: a Nix version string (2.34.8) is 2.34 or newer.
func atLeastNix234(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 34
}
