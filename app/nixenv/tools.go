package nixenv

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/np-portable/np/internal/symlink"
)

// Tools are the programs of the bundled Nix that np runs by name.
var Tools = []string{
	"nix", "nix-build", "nix-channel", "nix-collect-garbage", "nix-copy-closure",
	"nix-daemon", "nix-env", "nix-hash", "nix-instantiate", "nix-prefetch-url",
	"nix-shell", "nix-store",
}

// IsTool says whether name is one of Tools.
func IsTool(name string) bool { return slices.Contains(Tools, name) }

// Link makes dir/<tool> a link to this np for every Nix tool (np link).
// Existing links to an np are replaced; other files are left alone and
// returned. It returns np's own path, which the links lead to.
func Link(dir string) (string, []string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("finding np's own path: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	selfInfo, err := os.Stat(self)
	if err != nil {
		return "", nil, fmt.Errorf("finding np's own path: %w", err)
	}
	var skipped []string
	for _, tool := range Tools {
		link := filepath.Join(dir, tool)
		if st, err := os.Lstat(link); err == nil {
			// Replace only links that lead to an np like this one.
			target, terr := os.Stat(link)
			if st.Mode()&os.ModeSymlink == 0 || terr != nil || !os.SameFile(target, selfInfo) && !looksLikeNp(link) {
				skipped = append(skipped, link)
				continue
			}
		}
		if err := symlink.Replace(self, link); err != nil {
			return "", nil, fmt.Errorf("linking %s: %w", link, err)
		}
	}
	return self, skipped, nil
}

// looksLikeNp says whether the link's target is an np binary, possibly another
// version of it, by its name.
func looksLikeNp(link string) bool {
	t, err := filepath.EvalSymlinks(link)
	return err == nil && filepath.Base(t) == "np"
}
