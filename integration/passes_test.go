//go:build integration

package integration

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
	"TestBuildSandboxWorksOrProbeSaysWhy":     "ns",
	"TestRootInAUserNamespaceBuildsSandboxed": "ns",
	"TestForcedNSRuntimeInHostileHosts":       "ns",
	// Hostile hosts with NP_RUNTIME unset: auto falls back to ptrace, so
	// they belong to the ptrace pass (seccomp on, as auto uses it).
	"TestHostileHostsFallBackToPtrace": "ptrace",
	"TestHostRefusingPtraceToo":        "ptrace",
	// A data dir moving from ns to ptrace: once, with seccomp.
	"TestDataDirInstalledUnderNSWorksUnderPtrace": "ptrace",
}
