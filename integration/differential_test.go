//go:build integration

package integration

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// walker prints, for every name under its argument (sorted, not descending
// into symlinks), what lstat, stat, readlink and a read say, and what the
// names "x/." and "x/.." resolve to: everything path resolution decides.
const walker = `use strict;
sub show { my ($p) = @_;
  my @l = lstat($p); my $ls = @l ? sprintf("%o", $l[2]) : "$!";
  my @s = stat($p); my $ss = @s ? sprintf("%o:%d", $s[2], -d _ ? 0 : $s[7]) : "$!";
  my $rl = readlink($p); $rl = defined $rl ? $rl : "-";
  my $data = "-"; if (open(my $f, "<", $p)) { my $n = sysread($f, $data, 64); $data = defined $n ? $data : "$!"; } else { $data = "$!" }
  $data =~ s/([^ -~])/sprintf("\\x%02x", ord $1)/ge;
  my @dot = stat("$p/."); my @up = stat("$p/..");
  printf "%s lstat=%s stat=%s link=%s data=%s dot=%s up=%s\n", $p, $ls, $ss, $rl, $data,
    (@dot ? "ino" . ($dot[1] == ($s[1] // -1) ? "=self" : "") : "$!"), (@up ? sprintf("%o", $up[2]) : "$!");
}
sub walk { my ($d) = @_; opendir(my $h, $d) or die "opendir $d: $!\n";
  for my $e (sort grep { $_ ne "." && $_ ne ".." } readdir($h)) { my $p = "$d/$e"; show($p); walk($p) if -d $p && !-l $p; } }
walk($ARGV[0]);`

// TestWalkOfATreeIsTheSameAsUnderNS: a random tree of files, directories
// and symlinks (absolute into /nix, relative, looping, dangling, out to the
// host) under /nix, walked by one program, prints the same under ptrace as
// under ns, whose kernel resolves the paths itself.
func TestWalkOfATreeIsTheSameAsUnderNS(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("tree seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	guest, host := scratch(t)
	var dirs = []string{""} // relative to the tree's root
	var all []string
	for i := 0; i < 120; i++ {
		parent := dirs[rng.Intn(len(dirs))]
		name := filepath.Join(parent, fmt.Sprintf("e%d", i))
		switch k := rng.Intn(10); {
		case k < 3:
			os.Mkdir(filepath.Join(host, name), 0o755)
			dirs = append(dirs, name)
		case k < 5:
			os.WriteFile(filepath.Join(host, name), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
		default:
			os.Symlink(linkTarget(rng, guest, name, all), filepath.Join(host, name))
		}
		all = append(all, name)
	}
	walk := func(runtime string) string {
		r := np(t, runOpts{env: []string{"NP_RUNTIME=" + runtime}}, "run", "perl", "-e", walker, guest)
		return must(t, r)
	}
	want, got := walk("ns"), walk("ptrace")
	if got != want {
		wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
		for i := range wl {
			if i >= len(gl) || wl[i] != gl[i] {
				g := "(missing)"
				if i < len(gl) {
					g = gl[i]
				}
				t.Fatalf("ptrace's walk differs from ns's (seed %d), first at line %d:\n ns:     %s\n ptrace: %s", seed, i+1, wl[i], g)
			}
		}
		t.Fatalf("ptrace's walk has %d lines more than ns's (seed %d)", len(gl)-len(wl), seed)
	}
	if !strings.Contains(want, "link=/nix/") || !strings.Contains(want, "Too many levels of symbolic links") {
		t.Fatalf("the tree lacks absolute /nix links or loops; the walk proves little:\n%s", want)
	}
}

// linkTarget picks a symlink's text for the link at name: absolute into the
// tree through /nix, relative, through "..", to itself (a loop), dangling,
// or out to the host.
func linkTarget(rng *rand.Rand, guest, name string, existing []string) string {
	pick := func() string {
		if len(existing) == 0 {
			return "missing"
		}
		return existing[rng.Intn(len(existing))]
	}
	switch rng.Intn(8) {
	case 0, 1:
		return guest + "/" + pick()
	case 2:
		rel, _ := filepath.Rel(filepath.Dir(filepath.Join("/t", name)), filepath.Join("/t", pick()))
		return rel
	case 3:
		return "../" + filepath.Base(pick()) + "/."
	case 4:
		return filepath.Base(name) // itself: ELOOP
	case 5:
		return guest + "/no-such-entry/x"
	case 6:
		return "/etc/passwd"
	default:
		return "/nix/store"
	}
}
