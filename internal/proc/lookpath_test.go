package proc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes files under a temp dir: name -> mode (0 = directory).
func tree(t *testing.T, files map[string]os.FileMode) string {
	t.Helper()
	root := t.TempDir()
	for name, mode := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if mode == 0 {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLookPathSearchesInOrderAndSkipsNonExecutables(t *testing.T) {
	root := tree(t, map[string]os.FileMode{"a/tool": 0o644, "b/tool": 0o755, "c/tool": 0o755, "d/tool": 0})
	path := strings.Join([]string{root + "/missing", root + "/d", root + "/a", root + "/b", root + "/c"}, ":")
	got, err := LookPath("tool", path)
	if err != nil || got != root+"/b/tool" {
		t.Errorf("LookPath = %q, %v; want %s/b/tool", got, err, root)
	}
}

func TestLookPathSaysNotExecutableWhenOnlyNonExecutablesExist(t *testing.T) {
	root := tree(t, map[string]os.FileMode{"a/tool": 0o644, "b/tool": 0})
	_, err := LookPath("tool", root+"/a:"+root+"/b")
	if !errors.Is(err, ErrNotExecutable) {
		t.Fatalf("got %v, want ErrNotExecutable", err)
	}
	if want := `running program "tool": ` + root + "/a/tool: permission denied"; err.Error() != want && !isRoot() {
		t.Errorf("message %q, want %q", err, want)
	}
}

func isRoot() bool { return os.Geteuid() == 0 }

func TestLookPathSaysNotFoundOnPath(t *testing.T) {
	_, err := LookPath("np-no-such-tool", "/nonexistent:"+t.TempDir())
	if !errors.Is(err, ErrNotFound) || err.Error() != `program "np-no-such-tool" not found on PATH` {
		t.Errorf("got %v", err)
	}
	var le *LookupError
	if !errors.As(err, &le) {
		t.Errorf("not a *LookupError: %T", err)
	}
}

func TestLookPathUsesNamesWithSlashAsTheyAre(t *testing.T) {
	root := tree(t, map[string]os.FileMode{"bin/tool": 0o755, "data": 0o644, "dir": 0})
	cases := []struct {
		name    string
		want    error
		message string
	}{
		{root + "/bin/tool", nil, ""},
		{root + "/missing", ErrNotFound, `program "` + root + `/missing" not found`},
		{root + "/data/x", ErrNotFound, `not found`},
		{root + "/dir", ErrNotExecutable, "is a directory"},
	}
	if !isRoot() {
		cases = append(cases, struct {
			name    string
			want    error
			message string
		}{root + "/data", ErrNotExecutable, "permission denied"})
	}
	for _, c := range cases {
		// A PATH that would find something else must not matter.
		got, err := LookPath(c.name, root+"/bin")
		if c.want == nil {
			if err != nil || got != c.name {
				t.Errorf("%s: got %q, %v", c.name, got, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%s: got %v, want %v with %q", c.name, err, c.want, c.message)
		}
	}
}

func TestLookPathEmptyElementIsTheCurrentDirectory(t *testing.T) {
	root := tree(t, map[string]os.FileMode{"tool": 0o755})
	t.Chdir(root)
	got, err := LookPath("tool", "/nonexistent::/also-nonexistent")
	if err != nil || got != "./tool" {
		t.Errorf("got %q, %v; want ./tool", got, err)
	}
	if _, err := LookPath("tool", "/nonexistent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("without an empty element: %v, want not found", err)
	}
}

func TestLookPathSkipsUnsearchableDirectories(t *testing.T) {
	root := tree(t, map[string]os.FileMode{"locked/tool": 0o755})
	if err := os.Chmod(root+"/locked", 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(root+"/locked", 0o755)
	_, err := LookPath("other", root+"/locked")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("a program behind an unsearchable PATH entry: %v, want not found", err)
	}
}

func TestLookPathEmptyNameIsNotFound(t *testing.T) {
	if _, err := LookPath("", "/bin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v", err)
	}
}
