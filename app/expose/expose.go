// Package expose is np expose: the programs of the user's Nix profile as
// small sh wrappers in a directory on the host's PATH. Each wrapper execs
// np, which runs the program from the profile, so its arguments, exit
// status and signals are the program's own (np exits and dies the way the
// program did). The directories are recorded in the data dir and re-synced
// by every np command that ran something (Sync), when the profile's
// generation has changed.
package expose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/plainfile"
)

// exposeTag starts every wrapper's second line, after its #! line: np
// replaces or removes only files that begin that way.
const exposeTag = "# np expose: "

// WrapperArg is the argument np's #! line in a wrapper passes before the
// wrapper's path: np then runs the wrapper's program itself (Wrapped),
// without a shell in between.
const WrapperArg = "--exposed"

// maxShebang is the longest #! line (without its newline) every kernel np
// supports reads whole: Linux before 5.1 reads the first 128 bytes of a
// script and cuts its interpreter line there.
const maxShebang = 127

// exposeMarker in an expose directory records what it exposes.
const exposeMarker = ".np-expose"

// exposedDir is one registered expose directory.
type exposedDir struct {
	Dir      string `json:"dir"`
	Profile  string `json:"profile"`          // the profile link, e.g. DATA_DIR/state/profile
	Location string `json:"location"`         // NP_LOCATION to run with, "" when it was not set
	Np       string `json:"np"`               // the np the wrappers exec
	Target   string `json:"target,omitempty"` // the profile generation last synced
}

// Has says whether any expose dir is registered (one stat).
func Has(c *config.Config) bool {
	_, err := os.Stat(c.DataDir.ExposeRecord())
	return err == nil
}

func loadExposed(c *config.Config) []exposedDir {
	data, err := plainfile.ReadFile(c.DataDir.ExposeRecord())
	if err != nil {
		return nil
	}
	var dirs []exposedDir
	if err := json.Unmarshal(data, &dirs); err != nil {
		logrus.Debugf("expose: ignoring a damaged %s: %v", c.DataDir.ExposeRecord(), err)
		return nil
	}
	return dirs
}

func saveExposed(c *config.Config, dirs []exposedDir) error {
	if len(dirs) == 0 {
		if err := os.Remove(c.DataDir.ExposeRecord()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", c.DataDir.ExposeRecord(), err)
		}
		return nil
	}
	data, err := json.MarshalIndent(dirs, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", c.DataDir.ExposeRecord(), err)
	}
	return extract.WriteFileAtomic(c.DataDir.ExposeRecord(), append(data, '\n'), 0o644)
}

// Add exposes the programs of the profile of runtime rt in dir and keeps
// dir in sync from now on. It returns how many programs dir exposes, the
// profile they come from, and the files it left alone because np did not
// write them.
func Add(c *config.Config, rt runtimes.Runtime, dir string) (int, string, []string, error) {
	nixDir := rt.NixDir()
	l := nixenv.LayoutFor(c, rt)
	nixenv.MigrateProfile(c, l, c.Home)
	profile := l.ProfileLink(c.Home)
	if profile == "" {
		return 0, "", nil, fmt.Errorf("HOME is not set, so there is no Nix profile to expose; set HOME")
	}
	self, err := os.Executable()
	if err != nil {
		return 0, "", nil, fmt.Errorf("finding np's own path: %w", err)
	}
	e := exposedDir{Dir: dir, Profile: profile, Np: self}
	if c.LocationSet {
		e.Location = c.Location
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, "", nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	marker, _ := json.Marshal(e)
	if err := extract.WriteFileAtomic(filepath.Join(dir, exposeMarker), append(marker, '\n'), 0o644); err != nil {
		return 0, "", nil, err
	}
	dirs := slices.DeleteFunc(loadExposed(c), func(d exposedDir) bool { return d.Dir == dir })
	n, skipped, err := syncOne(&e, nixDir)
	if err != nil {
		return 0, "", nil, err
	}
	if err := saveExposed(c, append(dirs, e)); err != nil {
		return 0, "", nil, err
	}
	return n, e.Profile, skipped, nil
}

// Remove removes np's wrappers and marker from dir (and dir itself when
// nothing else is left in it) and forgets it. It returns how many wrappers
// it removed.
func Remove(c *config.Config, dir string) (int, error) {
	dirs := loadExposed(c)
	known := slices.ContainsFunc(dirs, func(d exposedDir) bool { return d.Dir == dir })
	if _, err := os.Stat(filepath.Join(dir, exposeMarker)); err != nil && !known {
		return 0, fmt.Errorf("%s is not a directory made by np expose (no %s in it, not in %s)", dir, exposeMarker, c.DataDir.ExposeRecord())
	}
	removed := 0
	entries, _ := os.ReadDir(dir)
	for _, ent := range entries {
		if isWrapper(filepath.Join(dir, ent.Name())) {
			if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil {
				return 0, fmt.Errorf("removing %s: %w", ent.Name(), err)
			}
			removed++
		}
	}
	if err := os.Remove(filepath.Join(dir, exposeMarker)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("removing %s: %w", exposeMarker, err)
	}
	os.Remove(dir) // only when empty
	if err := saveExposed(c, slices.DeleteFunc(dirs, func(d exposedDir) bool { return d.Dir == dir })); err != nil {
		return 0, err
	}
	return removed, nil
}

// Sync brings every registered expose dir up to date with its
// profile. It costs a few readlink calls when nothing changed; np calls it
// after each program it ran, so `nix-env -i`, `nix profile remove` or a
// rollback show up in the expose dirs without running np expose again.
func Sync(c *config.Config, rt runtimes.Runtime) {
	dirs := loadExposed(c)
	if len(dirs) == 0 {
		return
	}
	self, _ := os.Executable()
	// Registered before each data dir had its own profile, a dir follows
	// the shared ~/.nix-profile: it moves to this data dir's.
	profile := nixenv.LayoutFor(c, rt).ProfileLink(c.Home)
	changed := false
	for i := range dirs {
		e := &dirs[i]
		moved := profile != "" && e.Profile != profile
		if moved {
			e.Profile = profile
		}
		target, _ := profileTarget(e.Profile, rt.NixDir())
		if !moved && target == e.Target && (self == "" || self == e.Np) {
			continue
		}
		if self != "" {
			e.Np = self
		}
		if _, skipped, err := syncOne(e, rt.NixDir()); err != nil {
			logrus.Warnf("np expose: updating %s: %v", e.Dir, err)
		} else if len(skipped) > 0 {
			logrus.Debugf("np expose: left alone in %s: %v", e.Dir, skipped)
		}
		changed = true
	}
	if changed {
		if err := saveExposed(c, dirs); err != nil {
			logrus.Warnf("np expose: %v", err)
		}
	}
}

// syncOne writes a wrapper for every program of the profile and removes
// wrappers of programs it no longer has. It returns how many programs are
// exposed and the files it left alone because np did not write them.
func syncOne(e *exposedDir, nixDir string) (int, []string, error) {
	if _, err := os.Stat(filepath.Join(e.Dir, exposeMarker)); err != nil {
		return 0, nil, fmt.Errorf("%s lacks its %s marker; run np expose %s again", e.Dir, exposeMarker, e.Dir)
	}
	target, bin := profileTarget(e.Profile, nixDir)
	names := map[string]bool{}
	if bin != "" {
		entries, err := os.ReadDir(bin)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, nil, fmt.Errorf("listing the profile's programs: %w", err)
		}
		for _, ent := range entries {
			if !strings.HasPrefix(ent.Name(), ".") {
				names[ent.Name()] = true
			}
		}
	}
	var skipped []string
	n := 0
	for _, name := range sortedKeys(names) {
		file := filepath.Join(e.Dir, name)
		want := wrapperText(e, name)
		have, err := os.ReadFile(file)
		switch {
		case err == nil && bytes.Equal(have, want):
			n++
			continue
		case err == nil && !isWrapperText(have), err != nil && !errors.Is(err, fs.ErrNotExist):
			skipped = append(skipped, file)
			continue
		}
		if err := extract.WriteFileAtomic(file, want, 0o755); err != nil {
			return n, skipped, err
		}
		n++
	}
	entries, _ := os.ReadDir(e.Dir)
	for _, ent := range entries {
		if !names[ent.Name()] && isWrapper(filepath.Join(e.Dir, ent.Name())) {
			if err := os.Remove(filepath.Join(e.Dir, ent.Name())); err != nil {
				return n, skipped, fmt.Errorf("removing the wrapper of %s: %w", ent.Name(), err)
			}
		}
	}
	e.Target = target
	logrus.Debugf("np expose: %s has %d programs of %s (%s)", e.Dir, n, e.Profile, target)
	return n, skipped, nil
}

// wrapperText is the wrapper that runs name from e's profile through np.
// Its #! line names np itself (WrapperArg), so that running it costs one
// start of np and no shell; its last line is the same run as sh would do
// it, which np reads back (Wrapped) and which runs the program when the
// file is handed to sh. When np's path cannot be a #! line (blanks in it,
// or too long for old kernels), /bin/sh runs that line.
func wrapperText(e *exposedDir, name string) []byte {
	var b strings.Builder
	if shebang := "#!" + e.Np + " " + WrapperArg; filepath.IsAbs(e.Np) && len(shebang) <= maxShebang && !strings.ContainsAny(e.Np, " \t\n\r\v\f") {
		b.WriteString(shebang + "\n")
	} else {
		b.WriteString("#!/bin/sh\n")
	}
	b.WriteString(exposeTag + "runs " + name + " from the Nix profile " + e.Profile + " through np.\n")
	b.WriteString("# Written and kept in sync by np; np expose --remove " + e.Dir + " removes it.\n")
	b.WriteString(execLine(e.Location, e.Np, filepath.Join(e.Profile, "bin", name)))
	return []byte(b.String())
}

// execLine is a wrapper's last line: the sh command that runs prog through
// np (with NP_LOCATION when location is set).
func execLine(location, np, prog string) string {
	line := ""
	if location != "" {
		line = "NP_LOCATION=" + shellQuote(location) + " "
	}
	return line + "exec " + shellQuote(np) + " run " + shellQuote(prog) + " \"$@\"\n"
}

// isWrapperText says whether a file's text is one of np's wrappers: a #!
// line, then a line that begins with exposeTag (this np's wrappers and the
// /bin/sh ones of earlier versions).
func isWrapperText(text []byte) bool {
	nl := bytes.IndexByte(text, '\n')
	return bytes.HasPrefix(text, []byte("#!")) && nl >= 0 && bytes.HasPrefix(text[nl+1:], []byte(exposeTag))
}

func isWrapper(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, maxShebang+1+len(exposeTag))
	n, _ := io.ReadFull(f, head)
	return isWrapperText(head[:n])
}

// profileTarget follows the profile link to its generation in the store,
// mapping /nix to nixDir on the way (on the host the links dangle). It
// returns the generation's store path and the host directory of its bin,
// or "" for both when the profile does not exist yet.
func profileTarget(profile, nixDir string) (string, string) {
	gen, _ := nixenv.ResolveInNix(profile, nixDir)
	if gen == "" {
		return "", ""
	}
	_, bin := nixenv.ResolveInNix(filepath.Join(gen, "bin"), nixDir)
	return gen, bin
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
