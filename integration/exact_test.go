//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Arguments, environment and working directory are bytes, not text: they
// reach the program unchanged whatever they contain.

func TestNonUTF8ArgumentsAndEnvironmentPassExactly(t *testing.T) {
	args := []string{"caf\xe9", "\xff", "a\nb", "", "\xe9\n"}
	r := np(t, runOpts{env: []string{"NP_T_VAL=x\xe9\xff\ny", "NP_T_EMPTY="}},
		append([]string{"run", "sh", "-c", `printf '[%s]' "$@"; printf '{%s}' "$NP_T_VAL" "$NP_T_EMPTY"`, "sh"}, args...)...)
	want := "[caf\xe9][\xff][a\nb][][\xe9\n]{x\xe9\xff\ny}{}"
	if got := must(t, r); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRmOfANonUTF8NameRemovesThatFile(t *testing.T) {
	dir := t.TempDir()
	name, other := "file\xe9", "file\uFFFD"
	for _, n := range []string{name, other} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, np(t, runOpts{dir: dir}, "run", "rm", name))
	if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
		t.Errorf("np run rm %q left the file", name)
	}
	if _, err := os.Lstat(filepath.Join(dir, other)); err != nil {
		t.Errorf("np run rm %q removed %q instead", name, other)
	}
}

func TestNonUTF8WorkingDirectoryIsKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d\xe9\xff")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := np(t, runOpts{dir: dir, env: []string{"PWD=" + dir}}, "run", "sh", "-c", `pwd -P; touch x`)
	if got := must(t, r); got != dir+"\n" {
		t.Fatalf("pwd inside = %q, want %q", got, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
		t.Fatalf("touch x did not write into the working directory: %v", err)
	}
}

// A deleted working directory behaves as it does without np: the program
// starts in it (creating a file fails), never in $HOME.
func TestDeletedWorkingDirectoryIsNotReplacedByHome(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A shell in the doomed directory deletes it, then starts np from it.
	script := `cd "$1" && rmdir "$1" && exec "$2" run sh -c 'touch x 2>/dev/null && echo created || echo refused'`
	cmd := exec.Command("sh", "-c", script, "sh", dir, npBin)
	cmd.Env = append(cleanEnv(), "NP_LOCATION="+sharedLocation(t), "HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("np in a deleted directory: %v\n%s", err, out)
	}
	// (sh may first warn that getcwd failed, as it does without np.)
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); lines[len(lines)-1] != "refused" {
		t.Errorf("touch x in a deleted directory inside np: %q, want refused (as without np)", out)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("np ran the program in $HOME: it holds %v", entries)
	}
}

func TestWorkingDirectoryUnreachableByNameIsKept(t *testing.T) {
	// A directory whose parent is no longer searchable cannot be entered
	// by name; the caller is in it all the same, so the program is too.
	dir := filepath.Join(t.TempDir(), "locked")
	inner := filepath.Join(dir, "in")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	script := `cd "$1" && chmod 000 "$2" && exec "$3" run sh -c 'touch x'`
	cmd := exec.Command("sh", "-c", script, "sh", inner, dir, npBin)
	cmd.Env = append(cleanEnv(), "NP_LOCATION="+sharedLocation(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("np in a cwd it cannot reach by name: %v\n%s", err, out)
	}
	os.Chmod(dir, 0o755)
	if _, err := os.Stat(filepath.Join(inner, "x")); err != nil {
		t.Fatalf("the program did not run in the caller's directory: %v", err)
	}
}
