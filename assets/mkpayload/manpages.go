package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// stageManPages copies Nix's manual pages (nix-bin's usr/share/man/man*/nix*)
// into the Nix store path's share/man, as gzip files exactly as Debian ships
// them. The legacy tools' --help runs `man` on them; np points NIX_DATA_DIR
// at share. It returns how many pages were copied.
func stageManPages(c *config, p *storePath) (int, error) {
	n := 0
	for _, section := range []string{"man1", "man5", "man8"} {
		pages, err := filepath.Glob(filepath.Join(c.root, "usr/share/man", section, "nix*"))
		if err != nil {
			return 0, fmt.Errorf("listing man pages: %w", err)
		}
		sort.Strings(pages)
		for _, src := range pages {
			st, err := os.Lstat(src)
			if err != nil {
				return 0, fmt.Errorf("staging man page: %w", err)
			}
			if !st.Mode().IsRegular() {
				return 0, fmt.Errorf("staging man page %s: not a regular file", src)
			}
			if err := copyFile(src, filepath.Join(p.dir, "share/man", section, filepath.Base(src)), 0o644); err != nil {
				return 0, err
			}
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("staging man pages: none found under usr/share/man (is nix-bin unpacked?)")
	}
	return n, nil
}
