package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/np-portable/np/internal/symlink"
)

// cmdLink creates DIR/<tool> -> np for every Nix tool.
func cmdLink(args []string) (syscall.WaitStatus, error) {
	if len(args) != 1 || args[0] == "" {
		// An empty name would mean the current directory to filepath.Abs:
		// links dropped where the user did not ask for them.
		return 0, &usageError{"np link needs exactly one directory, not an empty name"}
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return 0, fmt.Errorf("resolving %s: %w", args[0], err)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding np's own path: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("creating %s: %w", dir, err)
	}
	selfInfo, err := os.Stat(self)
	if err != nil {
		return 0, fmt.Errorf("finding np's own path: %w", err)
	}
	var skipped []string
	for _, tool := range nixTools {
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
			return 0, fmt.Errorf("linking %s: %w", link, err)
		}
	}
	fmt.Printf("linked %d Nix tools in %s to %s\n", len(nixTools)-len(skipped), dir, self)
	if len(skipped) > 0 {
		return 0, fmt.Errorf("left %d existing files alone (not links to np): %v; remove them or choose another directory", len(skipped), skipped)
	}
	return exitStatus(0), nil
}

// looksLikeNp says whether the link's target is an np binary, possibly another
// version of it, by its name.
func looksLikeNp(link string) bool {
	t, err := filepath.EvalSymlinks(link)
	return err == nil && filepath.Base(t) == "np"
}
