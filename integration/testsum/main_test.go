package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goTestJSON runs `go test -json` on a package made of src and returns
// its event stream: the summary is checked against what go test really
// writes, not against hand-written events.
func goTestJSON(t *testing.T, src string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module sample\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sample_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append([]string{"test", "-json", "-count=1"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, _ := cmd.Output() // a failing test exits 1; the events say why
	if len(out) == 0 {
		t.Fatalf("go test -json wrote nothing")
	}
	return string(out)
}

const sample = `package sample

import "testing"

func TestPasses(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) {})
}

func TestFails(t *testing.T) { t.Log("the reason"); t.Fail() }

func TestSkips(t *testing.T) { t.Skip("no machine for it") }
`

func TestCountsEveryTestAndSubtest(t *testing.T) {
	var out strings.Builder
	c, err := summarise(strings.NewReader(goTestJSON(t, sample)), &out)
	if err != nil {
		t.Fatal(err)
	}
	// TestPasses and its two subtests pass; a skip is a failure.
	if got, want := c.String(), "3 passed, 2 failed (1 skipped)"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if c.ok() {
		t.Error("a run with a failing and a skipped test counted as ok")
	}
	for _, want := range []string{"--- FAIL: TestFails", "the reason", "--- SKIP: TestSkips", "--- PASS: TestPasses"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the copied output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAPassingSelectionIsOK(t *testing.T) {
	c, err := summarise(strings.NewReader(goTestJSON(t, sample, "-run", "^TestPasses$")), &strings.Builder{})
	if err != nil || !c.ok() || c.String() != "3 passed, 0 failed (0 skipped)" {
		t.Errorf("got %v, %v; want 3 passed and ok", c, err)
	}
}

func TestASelectionMatchingNothingFails(t *testing.T) {
	c, err := summarise(strings.NewReader(goTestJSON(t, sample, "-run", "^TestRenamedAway$")), &strings.Builder{})
	if err == nil || c.ok() {
		t.Errorf("a run of zero tests: %v, %v; want a failure", c, err)
	}
}

func TestABuildFailureFails(t *testing.T) {
	c, err := summarise(strings.NewReader(goTestJSON(t, "package sample\n\nfunc TestX(t *testing.T) { undefined() }\n")), &strings.Builder{})
	if err == nil && c.ok() {
		t.Errorf("a package that does not build: %v; want a failure", c)
	}
}

func TestAPanicAfterPassesFails(t *testing.T) {
	src := sample[:strings.Index(sample, "func TestFails")] + "func TestPanics(t *testing.T) { go panic(\"boom\"); select {} }\n"
	c, _ := summarise(strings.NewReader(goTestJSON(t, src)), &strings.Builder{})
	if c.ok() {
		t.Errorf("a test binary that panicked: %v; want a failure", c)
	}
}

func TestACutOffStreamFails(t *testing.T) {
	events := goTestJSON(t, sample, "-run", "^TestPasses$")
	// The binary's last word (the package's pass) never came.
	cut := events[:strings.LastIndex(strings.TrimRight(events, "\n"), "\n")+1]
	c, _ := summarise(strings.NewReader(cut), &strings.Builder{})
	if c.ok() {
		t.Errorf("a stream cut before the end: %v; want a failure", c)
	}
}

func TestPatternSelectsTheFilesTests(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x_test.go")
	os.WriteFile(f, []byte(`package x

import "testing"

func TestMain(m *testing.M) {}
func TestB(t *testing.T)    {}
func TestA_sub(t *testing.T) {}
func Testify(t *testing.T)  {}
func helper(t *testing.T)   {}
func BenchmarkC(b *testing.B) {}
`), 0o644)
	got, err := runPattern([]string{f}, "")
	if want := "^(TestA_sub|TestB)$"; err != nil || got != want {
		t.Errorf("pattern %q, %v; want %q", got, err, want)
	}
	empty := filepath.Join(t.TempDir(), "y_test.go")
	os.WriteFile(empty, []byte("package x\n"), 0o644)
	if _, err := runPattern([]string{empty}, ""); err == nil {
		t.Error("a file without tests gave a pattern; want an error")
	}
}

func TestPatternSelectsAMarkedSet(t *testing.T) {
	dir := t.TempDir()
	marked := filepath.Join(dir, "x_test.go")
	os.WriteFile(marked, []byte(`package x

import "testing"

// TestA is in two sets.
//
//np:kernel-set hostile smoke
func TestA(t *testing.T) {}

//np:kernel-set smoke
func TestB(t *testing.T) {}

// TestC mentions np:kernel-set hostile in its text only.
func TestC(t *testing.T) {}
`), 0o644)
	none := filepath.Join(dir, "y_test.go")
	os.WriteFile(none, []byte("package x\n\nimport \"testing\"\n\nfunc TestD(t *testing.T) {}\n"), 0o644)
	for set, want := range map[string]string{"smoke": "^(TestA|TestB)$", "hostile": "^(TestA)$"} {
		got, err := runPattern([]string{marked, none}, set)
		if err != nil || got != want {
			t.Errorf("set %s: pattern %q, %v; want %q", set, got, err, want)
		}
	}
	if got, err := runPattern([]string{marked, none}, "signals"); err == nil {
		t.Errorf("a set no test is marked with gave %q; want an error", got)
	}
	typo := filepath.Join(dir, "z_test.go")
	os.WriteFile(typo, []byte("package x\n\nimport \"testing\"\n\n//np:kernelset smoke\nfunc TestE(t *testing.T) {}\n"), 0o644)
	if got, err := runPattern([]string{marked, typo}, "smoke"); err == nil {
		t.Errorf("a misspelt mark gave %q; want an error", got)
	}
}
