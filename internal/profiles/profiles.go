// Package profiles moves a user's Nix profiles into the data dir that owns
// their store paths.
//
// Nix keeps a non-root user's profiles in $XDG_STATE_HOME/nix/profiles
// (~/.local/state/nix/profiles) and links ~/.nix-profile to one of them.
// Both live on the host, outside any data dir, while the store paths the
// generations point to live in one data dir's store: two data dirs shared
// one profile, and each saw the other's generations as empty (and its np
// expose wrappers were deleted). np now gives Nix a state directory per
// data dir (NIX_STATE_HOME with use-xdg-base-directories); Migrate fills it
// once from the old shared profiles, taking the generations whose store
// paths this data dir holds.
//
// A profile named NAME in a profiles directory is, as Nix lays it out, the
// link NAME -> NAME-N-link (the current generation) and one link
// NAME-K-link -> /nix/store/... per generation, whose modification time is
// the generation's date.
package profiles

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/symlink"
)

// Migration copies profiles from an old profiles directory into a new one.
type Migration struct {
	From string // the old profiles directory, a host path
	To   string // the new profiles directory, a host path
	// NixDir is the host directory seen as /nix inside np: a generation
	// is this data dir's when NixDir holds its store path.
	NixDir string
	// Roots is the directory of Nix's indirect GC roots
	// (NixDir/var/nix/gcroots/auto): each copied generation gets a root
	// there, as Nix gives the generations it makes itself.
	Roots string
}

// Result says what Migrate did with one profile.
type Result struct {
	Copied  []int // generation numbers copied, ascending
	Current int   // the generation the new profile link points to, 0 for none
	Skipped int   // generations whose store paths this data dir lacks
}

// Generation is one NAME-N-link of a profile.
type Generation struct {
	Number int
	Target string // the store path, as the link says (/nix/store/...)
}

// Generations lists the generations of profile name in dir, ascending.
func Generations(dir, name string) ([]Generation, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gens []Generation
	for _, e := range entries {
		n, ok := generationNumber(e.Name(), name)
		if !ok {
			continue
		}
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // not a link: not Nix's
		}
		gens = append(gens, Generation{Number: n, Target: t})
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i].Number < gens[j].Number })
	return gens, nil
}

// generationNumber parses NAME-N-link.
func generationNumber(file, name string) (int, bool) {
	rest, ok := strings.CutPrefix(file, name+"-")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "-link")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	return n, err == nil && n > 0
}

// Profile migrates the profile called name. It does nothing when To has
// that profile already (np migrated it before, or Nix made it) or From has
// none. The new current generation is the old current one when this data
// dir holds it, else the newest one it holds: the old current generation
// was made in another data dir.
func (m Migration) Profile(name string) (Result, error) {
	var r Result
	if _, err := os.Lstat(filepath.Join(m.To, name)); err == nil {
		return r, nil
	}
	gens, err := Generations(m.From, name)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("listing the profiles in %s: %w", m.From, err)
	}
	current := 0
	if t, err := os.Readlink(filepath.Join(m.From, name)); err == nil {
		current, _ = generationNumber(filepath.Base(t), name)
	}
	if err := os.MkdirAll(m.To, 0o755); err != nil {
		return r, fmt.Errorf("creating %s: %w", m.To, err)
	}
	for _, g := range gens {
		if !m.holds(g.Target) {
			r.Skipped++
			continue
		}
		if err := m.copyGeneration(name, g); err != nil {
			return r, err
		}
		r.Copied = append(r.Copied, g.Number)
	}
	if len(r.Copied) == 0 {
		return r, nil
	}
	r.Current = r.Copied[len(r.Copied)-1]
	if slices.Contains(r.Copied, current) {
		r.Current = current
	}
	// Last, so a migration cut short is done again from the start.
	link := filepath.Join(m.To, name)
	if err := symlink.Replace(fmt.Sprintf("%s-%d-link", name, r.Current), link); err != nil {
		return r, fmt.Errorf("linking %s: %w", link, err)
	}
	return r, nil
}

// holds says whether store path p (as seen inside np) is in NixDir.
func (m Migration) holds(p string) bool {
	rest, ok := strings.CutPrefix(p, "/nix/")
	if !ok {
		return false
	}
	_, err := os.Lstat(filepath.Join(m.NixDir, rest))
	return err == nil
}

// copyGeneration makes To/NAME-N-link with the old link's target and date
// and an indirect GC root for it.
func (m Migration) copyGeneration(name string, g Generation) error {
	file := fmt.Sprintf("%s-%d-link", name, g.Number)
	old, dst := filepath.Join(m.From, file), filepath.Join(m.To, file)
	if err := symlink.Replace(g.Target, dst); err != nil {
		return fmt.Errorf("copying generation %d of %s: %w", g.Number, name, err)
	}
	// The date is the generation's: nix-env --list-generations shows it and
	// --delete-generations 30d goes by it.
	if st, err := os.Lstat(old); err == nil {
		ts := []unix.Timespec{unix.NsecToTimespec(st.ModTime().UnixNano()), unix.NsecToTimespec(st.ModTime().UnixNano())}
		unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if m.Roots == "" {
		return nil
	}
	if err := os.MkdirAll(m.Roots, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", m.Roots, err)
	}
	// Nix names its indirect roots by a hash of the link's path; any name
	// does, it only has to be one per link.
	sum := sha1.Sum([]byte(dst))
	root := filepath.Join(m.Roots, "np-"+hex.EncodeToString(sum[:16]))
	if err := symlink.Replace(dst, root); err != nil {
		return fmt.Errorf("adding a GC root for generation %d of %s: %w", g.Number, name, err)
	}
	return nil
}
