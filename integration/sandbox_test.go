//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sandboxExpr builds a derivation that records whether the build saw the
// host's /home, i.e. whether Nix's build sandbox was on.
const sandboxExpr = `derivation { name = "sandbox-NAME"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "if test -d /home; then echo outside; else echo inside; fi > $out"]; }`

// buildSeesHost builds sandboxExpr with Nix's settings as np decides them
// for this run and says whether the build saw the host.
func buildSeesHost(t *testing.T, o runOpts, name string) (sandboxSetting, seen string) {
	t.Helper()
	loc := o.loc
	if loc == "" {
		loc = sharedLocation(t)
	}
	sandboxSetting = strings.TrimSpace(must(t, np(t, o, "nix", "config", "show", "sandbox")))
	out := strings.TrimSpace(must(t, np(t, o, "nix-build", "--no-out-link", "-E", strings.ReplaceAll(sandboxExpr, "NAME", name))))
	data, err := os.ReadFile(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(out)))
	if err != nil {
		t.Fatalf("build output: %v", err)
	}
	return sandboxSetting, strings.TrimSpace(string(data))
}

// TestNixSandboxSettingFitsTheRuntime: under ptrace Nix's build sandbox is
// off (it needs namespaces); under ns it is what the probe found. Either
// way the setting Nix reports is the one builds get.
func TestNixSandboxSettingFitsTheRuntime(t *testing.T) {
	setting, seen := buildSeesHost(t, runOpts{}, pass)
	if pass != "ns" && setting != "false" {
		t.Fatalf("Nix's sandbox setting under %s is %q, want false", pass, setting)
	}
	want := map[string]string{"true": "inside", "false": "outside", "relaxed": "inside"}[setting]
	if seen != want {
		t.Fatalf("sandbox = %s, but the build ran %s the sandbox", setting, seen)
	}
}

// TestDataDirInstalledUnderNSWorksUnderPtrace: a data dir shared between a
// host where ns works and one where only ptrace does (an NFS home, a
// container) must not carry ns's sandbox setting over.
func TestDataDirInstalledUnderNSWorksUnderPtrace(t *testing.T) {
	loc := newLocation(t)
	must(t, np(t, runOpts{loc: loc, env: []string{"NP_RUNTIME=ns"}}, "nix", "--version"))
	setting, seen := buildSeesHost(t, runOpts{loc: loc}, "after-ns")
	if setting != "false" || seen != "outside" {
		t.Fatalf("under %s after an install under ns: sandbox = %s, build ran %s; want false, outside", pass, setting, seen)
	}
}
