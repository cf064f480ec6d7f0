package expose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrapperRunsNpByItsShebangAndReadsBack(t *testing.T) {
	e := &exposedDir{Dir: "/home/u/bin", Profile: "/home/u/.nix-profile", Np: "/opt/np/np", Location: "/data/it's here"}
	text := wrapperText(e, "it's")
	if first, _, _ := strings.Cut(string(text), "\n"); first != "#!/opt/np/np "+WrapperArg {
		t.Fatalf("first line %q, want np's own #! line", first)
	}
	if !isWrapperText(text) {
		t.Fatalf("np does not recognise its own wrapper:\n%s", text)
	}
	file := filepath.Join(t.TempDir(), "it's")
	os.WriteFile(file, text, 0o755)
	w, err := Wrapped(file)
	if err != nil {
		t.Fatal(err)
	}
	if *w != (Wrapper{Location: "/data/it's here", LocationSet: true, Program: "/home/u/.nix-profile/bin/it's"}) {
		t.Fatalf("read back %+v from:\n%s", *w, text)
	}
	e.Location = ""
	os.WriteFile(file, wrapperText(e, "hello"), 0o755)
	if w, err := Wrapped(file); err != nil || w.LocationSet || w.Program != "/home/u/.nix-profile/bin/hello" {
		t.Fatalf("without NP_LOCATION: %+v, %v", w, err)
	}
}

func TestWrapperFallsBackToShWhereNpCannotBeAShebang(t *testing.T) {
	for _, np := range []string{"/opt/n p/np", "/" + strings.Repeat("d", maxShebang) + "/np", "np"} {
		text := wrapperText(&exposedDir{Dir: "/b", Profile: "/p", Np: np}, "x")
		if !strings.HasPrefix(string(text), "#!/bin/sh\n"+exposeTag) {
			t.Errorf("np at %q: wrapper starts %q, want a /bin/sh one", np, text[:20])
		}
	}
}

func TestWrappedRefusesFilesNpDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	good := string(wrapperText(&exposedDir{Dir: dir, Profile: "/p", Np: "/np"}, "x"))
	for name, text := range map[string]string{
		"user's script":   "#!/bin/sh\necho mine\n",
		"changed command": strings.Replace(good, "exec '/np' run", "exec '/np' nix", 1),
		"extra argument":  strings.Replace(good, `"$@"`, `-v "$@"`, 1),
		"open quote":      strings.Replace(good, "'/p/bin/x'", "'/p/bin/x", 1),
	} {
		file := filepath.Join(dir, "w")
		os.WriteFile(file, []byte(text), 0o755)
		if w, err := Wrapped(file); err == nil {
			t.Errorf("%s: read as %+v", name, *w)
		}
	}
}
