package nixenv

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/profiles"
	"github.com/np-portable/np/internal/symlink"
)

// Each data dir keeps its own Nix profile, channels and nix-env defexpr:
// their generations point into that data dir's store, so a profile on the
// host (~/.nix-profile, ~/.local/state/nix/profiles) shared by every data
// dir showed each one the others' generations as empty. np gives Nix a
// state directory inside the data dir (NIX_STATE_HOME) and makes Nix use it
// for the profile link too (use-xdg-base-directories). Where np uses the
// host's own /nix natively, that /nix is the user's own Nix and so are
// ~/.nix-profile and ~/.nix-defexpr: Nix's defaults stay.

// ownProfileLine follows np's other NIX_CONFIG lines where the data dir
// holds the store; a user's own line after it still wins.
const ownProfileLine = nixtools.ProfileLine

// LinkTools makes the wrappers: a link to np for every Nix tool.
func LinkTools(c *config.Config, m *extract.Manifest) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding np's own path: %w", err)
	}
	dir := c.DataDir.Tools(m.Nix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, t := range Tools {
		if err := symlink.Replace(self, filepath.Join(dir, t)); err != nil {
			return fmt.Errorf("linking np as %s: %w", t, err)
		}
	}
	return nil
}

// Layout says where Nix keeps the user's profile and channels.
type Layout struct {
	// stateHome is the NIX_STATE_HOME np sets, "" where Nix's defaults
	// (in HOME) apply.
	stateHome string
	nixDir    string // the host directory seen as /nix
}

// LayoutFor is the layout for programs np runs in rt.
func LayoutFor(c *config.Config, rt runtimes.Runtime) Layout {
	if rt.NixDir() == "/nix" {
		return Layout{nixDir: "/nix"}
	}
	return Layout{stateHome: c.DataDir.State(), nixDir: rt.NixDir()}
}

// ProfileLink is the link to the user's current profile generation.
func (l Layout) ProfileLink(home string) string {
	if l.stateHome != "" {
		return filepath.Join(l.stateHome, "profile")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".nix-profile")
}

// channelsDir is nix-env's defexpr entry for the channels, which np puts on
// NIX_PATH when it exists (Nix warns about a missing one on every command).
func (l Layout) channelsDir(home string) string {
	if l.stateHome != "" {
		return filepath.Join(l.stateHome, "defexpr", "channels")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".nix-defexpr", "channels")
}

// exists says whether p exists once its links into /nix are followed in nixDir.
func (l Layout) exists(p string) bool {
	dir := l.nixDir
	if dir == "" {
		dir = "/nix"
	}
	_, host := ResolveInNix(p, dir)
	return host != ""
}

// MigrateProfile gives a data dir that has no state directory yet the
// generations of the old shared ~/.nix-profile (and of the channels) whose
// store paths it holds, and the channel list, so nothing installed before
// disappears. The old links stay: other data dirs take theirs from them.
func MigrateProfile(c *config.Config, l Layout, home string) {
	if l.stateHome == "" || home == "" {
		return
	}
	if _, err := os.Lstat(l.stateHome); err == nil {
		return
	}
	if err := os.MkdirAll(l.stateHome, 0o755); err != nil {
		logrus.Warnf("creating %s: %v", l.stateHome, err)
		return
	}
	old := filepath.Join(home, ".nix-profile")
	target, err := os.Readlink(old)
	if err != nil {
		return // no shared profile to migrate
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(home, target)
	}
	if strings.HasPrefix(target, "/nix/") {
		// root's profiles are in /nix/var/nix/profiles/per-user/root,
		// inside the data dir already, and Nix keeps them there.
		return
	}
	m := profiles.Migration{
		From:   filepath.Dir(target),
		To:     filepath.Join(l.stateHome, "profiles"),
		NixDir: l.nixDir,
		Roots:  filepath.Join(l.nixDir, "var", "nix", "gcroots", "auto"),
	}
	r, err := m.Profile(filepath.Base(target))
	if err != nil {
		logrus.Warnf("copying the generations of %s into the data dir: %v", old, err)
		return
	}
	if _, err := m.Profile("channels"); err != nil {
		logrus.Warnf("copying the channels into the data dir: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(home, ".nix-channels")); err == nil {
		if err := os.WriteFile(filepath.Join(l.stateHome, "channels"), data, 0o644); err != nil {
			logrus.Warnf("copying ~/.nix-channels into the data dir: %v", err)
		}
	}
	if len(r.Copied) > 0 {
		fmt.Fprintf(os.Stderr, "np: this data dir now keeps its own Nix profile (%s): took %s of %s, whose programs are in this data dir; %s stays for other data dirs\n",
			filepath.Join(l.stateHome, "profile"), generationWords(r), old, old)
	}
}

func generationWords(r profiles.Result) string {
	if len(r.Copied) == 1 {
		return fmt.Sprintf("generation %d", r.Copied[0])
	}
	return fmt.Sprintf("%d generations (current: %d)", len(r.Copied), r.Current)
}

// ResolveInNix resolves the symlinks at the end of p, where targets under
// /nix live in nixDir, and returns the final path as seen inside np (under
// /nix) and on the host, or "" for both when it does not exist.
func ResolveInNix(p, nixDir string) (string, string) {
	host := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "/nix/"); ok {
			return filepath.Join(nixDir, rest)
		}
		return p
	}
	for range 40 {
		st, err := os.Lstat(host(p))
		if err != nil {
			return "", ""
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return p, host(p)
		}
		t, err := os.Readlink(host(p))
		if err != nil {
			return "", ""
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = t
	}
	return "", ""
}
