package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/safedir"
)

// Version is one payload installed in a Nix directory: an np version that
// used it.
type Version struct {
	Fingerprint string
	NixVersion  string
}

// Versions lists the payloads with a finished install record here.
func (t Target) Versions() ([]Version, error) {
	dir := filepath.Join(t.npDir(), "installs")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing installs: %w", err)
	}
	var out []Version
	for _, e := range entries {
		fp, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(fp, ".") {
			continue
		}
		v := Version{Fingerprint: fp}
		if m := t.Installed(fp); m != nil {
			v.NixVersion = m.NixVersion
		}
		out = append(out, v)
	}
	if data, err := os.ReadFile(t.legacyStateFile()); err == nil {
		var s state
		if json.Unmarshal(data, &s) == nil && s.Fingerprint != "" {
			v := Version{Fingerprint: s.Fingerprint}
			if s.Manifest != nil {
				v.NixVersion = s.Manifest.NixVersion
			}
			if !containsVersion(out, v.Fingerprint) {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out, nil
}

func containsVersion(vs []Version, fp string) bool {
	for _, v := range vs {
		if v.Fingerprint == fp {
			return true
		}
	}
	return false
}

// ForgetOthers removes the install records and GC roots of every payload
// but keep's (the running np's), so that the next garbage collection may
// free their store paths; paths keep shares stay rooted by keep's own
// roots. It returns the fingerprints it forgot. It holds the install lock,
// so it never races an install, and follows no symbolic link.
func (t Target) ForgetOthers(keep string) ([]string, error) {
	if err := t.mkdirs("var/np", "var/nix/gcroots/np"); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(t.npDir(), "lock"), Options{})
	if err != nil {
		return nil, err
	}
	defer unlock()
	// keep's own roots first: an install recorded by an older np (one
	// install record, flat roots) has none of its own yet, and removing
	// the flat ones would hand the running np's Nix to the collector.
	if m := t.Installed(keep); m != nil {
		if err := t.mkdirs("var/nix/gcroots/np/" + keep); err != nil {
			return nil, err
		}
		if err := t.writeGCRoots(keep, m); err != nil {
			return nil, err
		}
	}
	versions, err := t.Versions()
	if err != nil {
		return nil, err
	}
	var forgot []string
	for _, v := range versions {
		if v.Fingerprint != keep {
			forgot = append(forgot, v.Fingerprint)
			if err := removeIfExists(t.StateFile(v.Fingerprint)); err != nil {
				return forgot, err
			}
			_ = removeIfExists(t.stampFile(v.Fingerprint)) // void without its record anyway
		}
	}
	if data, err := os.ReadFile(t.legacyStateFile()); err == nil {
		var s state
		if json.Unmarshal(data, &s) != nil || s.Fingerprint != keep {
			if err := removeIfExists(t.legacyStateFile()); err != nil {
				return forgot, err
			}
		}
	}
	return forgot, t.removeOtherRoots(keep)
}

// removeOtherRoots empties gcroots/np of everything but keep's directory:
// other payloads' directories and the flat roots np wrote before roots
// were kept per payload. Only links and directories of links are removed,
// each relative to its opened parent.
func (t Target) removeOtherRoots(keep string) error {
	root := t.GCRootDir()
	fd, err := safedir.OpenAt(unix.AT_FDCWD, root, root)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	entries, err := readDirFD(fd)
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	for _, name := range entries {
		if name == keep {
			continue
		}
		path := filepath.Join(root, name)
		if err := unix.Unlinkat(fd, name, 0); err == nil || errors.Is(err, unix.ENOENT) {
			continue
		} else if !errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("removing GC root %s: %w", path, err)
		}
		sub, err := safedir.OpenAt(fd, name, path)
		if err != nil {
			return err
		}
		links, err := readDirFD(sub)
		for _, l := range links {
			if err == nil {
				if uerr := unix.Unlinkat(sub, l, 0); uerr != nil && !errors.Is(uerr, unix.ENOENT) {
					err = fmt.Errorf("removing GC root %s: %w", filepath.Join(path, l), uerr)
				}
			}
		}
		unix.Close(sub)
		if err != nil {
			return err
		}
		if err := unix.Unlinkat(fd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("removing %s: %w", path, err)
		}
	}
	return nil
}

// readDirFD lists the names in the directory fd (which stays open).
func readDirFD(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
