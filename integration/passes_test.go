//go:build integration

package integration

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// The suite runs once per runtime (integration/run.sh sets NP_TEST_RUNTIME
// for each pass); every np a test starts gets the pass's settings.
var passes = map[string][]string{
	"ns":               {"NP_RUNTIME=ns"},
	"ptrace":           {"NP_RUNTIME=ptrace"},
	"ptrace-noseccomp": {"NP_RUNTIME=ptrace", "NP_PTRACE_NO_SECCOMP=1"},
}

// pass is the runtime pass this run of the suite tests.
var pass string

// onePass lists the tests that run in one pass only, because they test
// something no runtime changes (the command line, the payload, the data
// dir's checks) or one runtime's own behaviour; every other test runs in
// every pass. Running the former thrice would only cost CI time.
var onePass = map[string]string{
	// The command line and dispatch: decided before any runtime starts.
	"TestInvalidRuntimeExits125ListingValidOnes": "ns",
	"TestInvalidDebugLevelExits125":              "ns",
	"TestUnknownCommandExits125":                 "ns",
	"TestVersionAndHelp":                         "ns",
	"TestSymlinkNamedAfterToolRunsIt":            "ns",
	"TestHardLinkNamedAfterToolRunsIt":           "ns",
	"TestLinkCommandCreatesToolLinks":            "ns",
	"TestRuntimeChoiceErrorsAndAliases":          "ns",
	"TestNPGitPutsGitOnPath":                     "ns",
	"TestUserStoreSettingDoesNotBreakNp":         "ns",
	// The payload and the data dir: checked before a runtime is used.
	"TestBareBinarySaysItCarriesNoNix":               "ns",
	"TestCorruptPayloadLeavesNoCompleteLookingStore": "ns",
	"TestUnwritableLocationNamesTheFix":              "ns",
	"TestDataDirOthersCanWriteIsRefused":             "ns",
	"TestVersionAndDoctorLeaveNoTrace":               "ns",
	"TestConcurrentFirstRunsShareOneInstall":         "ns",
	"TestFirstRunShowsProgressOnATerminalOnly":       "ns",
	// The ns runtime's own: auto's choice on this host, Nix's build
	// sandbox, root in a user namespace, the ns runtime refused.
	"TestDoctorOnAGoodHost":                   "ns",
	"TestBuildSandboxWorksUnderNS":            "ns",
	"TestRootInAUserNamespaceBuildsSandboxed": "ns",
	"TestForcedNSRuntimeInHostileHosts":       "ns",
	// Hostile hosts with NP_RUNTIME unset: auto falls back to ptrace, so
	// they belong to the ptrace pass (seccomp on, as auto uses it).
	"TestHostileHostsFallBackToPtrace":               "ptrace",
	"TestHostRefusingPtraceToo":                      "ptrace",
	"TestNotificationsSurviveARefusedPidfdGetfd":     "ptrace",
	"TestSeccompWithoutNotifications":                "ptrace",
	"TestNotificationServerPanicEndsTheRun":          "ptrace",
	"TestLinkWithAnEmptyDirectoryIsAnError":          "ns",
	"TestVersionAndHelpRefuseExtraArguments":         "ns",
	"TestRunHelpIsNpRunsAndProgramHelpPassesThrough": "ns",
	"TestLegacyToolsHelpShowsTheManPage":             "ns",
	"TestDoctorJSONEmptyListsAndUncreatedDataDir":    "ns",
	"TestOfflineDefaultsOnlyWhenUnreachableAndUnset": "ns",
	"TestReachableServersChangeNothing":              "ns",
	"TestBundleHelpSaysWhatItIs":                     "ns",
	"TestBundleChoosesItsProgramOrSaysHow":           "ns",
	"TestBundleIsMuchSmallerThanNpAndReproducible":   "ns",
	// The payload, the data dir, installs and versions.
	"TestDeletedFileOfNpsNixIsNamedAndRepaired":         "ns",
	"TestNoexecDataDirIsRefusedBeforeUnpacking":         "ns",
	"TestTooSmallDataDirIsRefusedWithTheSpaceNeeded":    "ns",
	"TestGroupWritableDataDirIsRefused":                 "ns",
	"TestNewDataDirIsMode0700":                          "ns",
	"TestSymlinkedStagingAndGCRootDirsAreNotFollowed":   "ns",
	"TestTruncatedDownloadIsNamedAsSuch":                "ns",
	"TestSwitchingBetweenTwoNpVersionsDoesNotReinstall": "ns",
	"TestGCFromOneVersionKeepsTheOthersNix":             "ns",
	"TestGCVersionsForgetsOtherVersionsOnly":            "ns",
	"TestOwnStorePathsAreTrustedAfterInstall":           "ns",
	"TestSharedSignedBinaryCacheOnAFileSystem":          "ns",
	// ns's own: its build-sandbox probe interrupted, a nested np that
	// cannot make the namespace another data dir needs.
	"TestSignalDuringFirstRunProbeEndsNpAndRecordsNothing": "ns",
	"TestNestedNpSaysWhyItCannotHonourInnerLocation":       "ns",
	// Bundles falling back from refused user namespaces: auto's choice.
	"TestBundleWithoutUserNamespacesFallsBackToPtrace": "ptrace",
	"TestBundleUnderSeccompFallsBackToPtrace":          "ptrace",
	// A data dir moving from ns to ptrace: once, with seccomp.
	"TestDataDirInstalledUnderNSWorksUnderPtrace": "ptrace",
}

// ptraceOnly lists the tests that compare ptrace with ns, so they run in
// both ptrace passes and not in the ns one.
var ptraceOnly = []string{"TestWalkOfATreeIsTheSameAsUnderNS"}

// selectPass sets the runtime this run of the suite tests and leaves out
// the tests that belong to another pass (see onePass): they are not run at
// all, rather than skipped, because a skipped test fails the suite.
func selectPass(name string) error {
	if _, ok := passes[name]; !ok {
		return fmt.Errorf("NP_TEST_RUNTIME=%q names no runtime pass; want one of ns, ptrace, ptrace-noseccomp (integration/run.sh sets it)", name)
	}
	pass = name
	flag.Parse()
	if f := flag.Lookup("test.skip"); f != nil && f.Value.String() != "" {
		return fmt.Errorf("-test.skip is set by the suite to leave out other passes' tests; select tests with -test.run")
	}
	var others []string
	if pass == "ns" {
		others = append(others, ptraceOnly...)
	}
	for test, p := range onePass {
		if _, ok := passes[p]; !ok {
			return fmt.Errorf("onePass: %s belongs to pass %q, which does not exist", test, p)
		}
		if p != pass {
			others = append(others, test)
		}
	}
	if len(others) == 0 {
		return nil
	}
	sort.Strings(others)
	return flag.Set("test.skip", "^("+strings.Join(others, "|")+")$")
}

// withoutPassRuntime is argv run through env(1) without the pass's runtime
// settings: for an np (or bundle) started inside np, which should choose
// its runtime as a user's would, the pass's NP_RUNTIME would otherwise reach
// it through the environment.
func withoutPassRuntime(argv ...string) []string {
	return append([]string{"env", "-u", "NP_RUNTIME", "-u", "NP_PTRACE_NO_SECCOMP"}, argv...)
}

// TestPassUsesItsRuntime guards the passes themselves: np runs programs in
// the pass's runtime, and under ptrace with seccomp the program runs under
// the tracer's filter (mode 2 in /proc/self/status), without it under none.
func TestPassUsesItsRuntime(t *testing.T) {
	r := np(t, runOpts{env: []string{"NP_DEBUG=1"}}, "run", "grep", "^Seccomp:", "/proc/self/status")
	out := must(t, r)
	runtime := strings.TrimSuffix(pass, "-noseccomp")
	if !strings.Contains(r.stderr, "runtime "+runtime) {
		t.Fatalf("np did not report running the %s runtime:\n%s", runtime, r.stderr)
	}
	want := map[string]string{"ns": "0", "ptrace": "2", "ptrace-noseccomp": "0"}[pass]
	if got := strings.TrimSpace(strings.TrimPrefix(out, "Seccomp:")); got != want {
		t.Fatalf("the program's seccomp mode is %s, want %s in the %s pass", got, want, pass)
	}
}
