package ptrace

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/nsbox"
)

// randomTree fills nix with a random tree: directories, files, symlinks
// absolute into /nix, relative, looping, dangling and out to the host.
// It returns paths (guest) worth looking up, some with "..", "." and
// trailing slashes.
func randomTree(t *testing.T, rng *rand.Rand, nix string) []string {
	t.Helper()
	dirs := []string{"/nix"}
	var all []string
	name := func() string { return fmt.Sprintf("%c%d", 'a'+rng.Intn(6), rng.Intn(3)) }
	for i := 0; i < 60; i++ {
		parent := dirs[rng.Intn(len(dirs))]
		p := parent + "/" + name()
		host := nix + strings.TrimPrefix(p, "/nix")
		if _, err := os.Lstat(host); err == nil {
			continue
		}
		switch k := rng.Intn(10); {
		case k < 3:
			os.Mkdir(host, 0o755)
			dirs = append(dirs, p)
		case k < 5:
			os.WriteFile(host, []byte("data of "+p+"\n"), 0o644)
		default:
			var target string
			switch rng.Intn(6) {
			case 0: // absolute into /nix
				target = dirs[rng.Intn(len(dirs))] + "/" + name()
			case 1: // relative, maybe up
				target = strings.Repeat("../", rng.Intn(3)) + name()
			case 2: // a loop-prone link to a sibling link
				target = name()
			case 3: // out to the host
				target = []string{"/etc", "/usr/bin", "/etc/hostname", "/nonexistent", "/proc/self"}[rng.Intn(5)]
			case 4: // up and out of /nix
				target = strings.Repeat("../", 1+rng.Intn(4)) + "etc"
			default:
				target = dirs[rng.Intn(len(dirs))]
			}
			os.Symlink(target, host)
		}
		all = append(all, p)
	}
	var paths []string
	for i := 0; i < 80 && len(all) > 0; i++ {
		p := all[rng.Intn(len(all))]
		switch rng.Intn(5) {
		case 0:
			p += "/"
		case 1:
			p += "/.."
		case 2:
			p += "/" + name()
		case 3:
			p = strings.Replace(p, "/nix/", "/nix/./", 1)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestDifferentialAgainstABindMount: a program that walks, stats, reads
// and readlinks a random tree under /nix prints the same under the tracer
// as in a real bind mount of the same directory at /nix (the ns runtime).
func TestDifferentialAgainstABindMount(t *testing.T) {
	f := getFixture(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for round := 0; round < 3; round++ {
		nix := filepath.Join(t.TempDir(), "nix")
		os.Mkdir(nix, 0o755)
		paths := randomTree(t, rng, nix)
		argv := append([]string{f.hostOps, "walk", "/nix"}, paths...)
		argv2 := append([]string{f.hostOps, "paths"}, paths...)
		var want strings.Builder
		for _, a := range [][]string{argv[:3], argv2} {
			var out strings.Builder
			ws, err := nsbox.Run(launch.Spec{NixDir: nix, Argv: a, Env: testEnv(), Dir: "/", Stdout: &out, Stderr: os.Stderr})
			if err != nil || ws != 0 {
				t.Fatalf("reference run in a bind mount: %v %v", ws, err)
			}
			want.WriteString(out.String())
		}
		if n := strings.Count(want.String(), "data=data of /nix/"); n < 3 {
			t.Fatalf("the reference read only %d files under /nix:\n%s", n, want.String())
		}
		modes(t, func(t *testing.T, ns bool) {
			got := traced(t, nix, ns, argv[:3]...).out + traced(t, nix, ns, argv2...).out
			if got != want.String() {
				t.Errorf("seed %d round %d: traced output differs from the bind mount's:\n%s", seed, round, diffLines(want.String(), got))
			}
		})
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "- %s\n+ %s\n", a, c)
		}
	}
	return b.String()
}
