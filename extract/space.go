package extract

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// spaceMargin is room beyond the store paths themselves: Nix's database,
// the build-sandbox probe and nix.conf.
const spaceMargin = 32 << 20

// peekManifest reads the payload's manifest, its first archive entry,
// without unpacking anything else.
func peekManifest(p *Payload) (*Manifest, error) {
	zr, err := zstd.NewReader(io.NewSectionReader(p.File, p.Trailer.Offset, p.Trailer.Length), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("reading payload: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != "manifest.json" {
		return nil, errors.New("payload does not start with its manifest: the binary is corrupt; rebuild or re-download np")
	}
	data, err := io.ReadAll(io.LimitReader(tr, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading payload manifest: %w", err)
	}
	return parseManifest(data)
}

// checkSpace refuses an install that cannot fit, before anything is
// unpacked: failing halfway would leave 50 MB of staging to clean up and
// the user without the number they need.
func (t Target) checkSpace(m *Manifest) error {
	var need int64 = spaceMargin
	for _, pe := range m.Paths {
		if _, err := os.Lstat(filepath.Join(t.Store(), path.Base(pe.Path))); err != nil {
			need += pe.NarSize // paths another np version installed are shared
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(nearestExisting(t.NixDir), &st); err != nil {
		return nil // unknown: let the install find out
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < need {
		return &UnusableError{fmt.Sprintf("not enough space for np's Nix in %s: it needs about %d MB, %d MB are free; free some space or set NP_LOCATION to a directory with %d MB free",
			t.NixDir, need>>20, free>>20, need>>20)}
	}
	return nil
}
