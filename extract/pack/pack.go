// Package pack writes the payload archives that package extract installs:
// np's own (assets/mkpayload, at build time) and a bundle's (np bundle, at
// run time). One writer for both keeps the format, and what makes it
// reproducible, in one place.
//
// An archive is a tar whose first entry is manifest.json, followed by every
// store path of the manifest as store/<hash>-<name>/... in sorted
// depth-first order, with Nix's canonical metadata only: mtime 1, no owners,
// mode 0444 or 0555 (the NAR's executable bit), symlinks as they are. The
// same store paths therefore always give the same bytes.
package pack

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/np-portable/np/extract"
)

// canonicalTime is the mtime Nix gives everything in the store.
var canonicalTime = time.Unix(1, 0)

// WriteTar writes the uncompressed archive of m to w, reading each store
// path's tree from storeDir/<hash>-<name> (a host directory: a staging
// tree, or the store of a data dir).
func WriteTar(w io.Writer, m *extract.Manifest, storeDir string) error {
	tw := tar.NewWriter(w)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	mj = append(mj, '\n')
	if err := tw.WriteHeader(header("manifest.json", tar.TypeReg, 0o444, int64(len(mj)), "")); err != nil {
		return fmt.Errorf("writing manifest to tar: %w", err)
	}
	if _, err := tw.Write(mj); err != nil {
		return fmt.Errorf("writing manifest to tar: %w", err)
	}
	names := m.Names()
	sort.Strings(names)
	for _, n := range names {
		if err := tarTree(tw, filepath.Join(storeDir, n), "store/"+n); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing tar: %w", err)
	}
	return nil
}

func header(name string, typ byte, mode int64, size int64, link string) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Linkname: link,
		Mode:     mode,
		Size:     size,
		ModTime:  canonicalTime,
		// PAX is chosen explicitly so the encoding never depends on
		// archive/tar's format guessing; with short names and no extra
		// times it emits plain ustar blocks, and only falls back to PAX
		// records if a name ever outgrows ustar.
		Format: tar.FormatPAX,
	}
}

func tarTree(tw *tar.Writer, src, name string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("adding %s to tar: %w", name, err)
	}
	switch mode := fi.Mode(); {
	case mode.IsDir():
		if err := tw.WriteHeader(header(name+"/", tar.TypeDir, 0o555, 0, "")); err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		kids, err := sortedDir(src)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := tarTree(tw, filepath.Join(src, k), name+"/"+k); err != nil {
				return err
			}
		}
		return nil
	case mode&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		if err := tw.WriteHeader(header(name, tar.TypeSymlink, 0o777, 0, t)); err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		return nil
	case mode.IsRegular():
		// Same rule as the NAR: only the owner-execute bit matters.
		perm := int64(0o444)
		if mode.Perm()&0o100 != 0 {
			perm = 0o555
		}
		if err := tw.WriteHeader(header(name, tar.TypeReg, perm, fi.Size(), "")); err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		defer f.Close()
		// The header promised fi.Size() bytes: a file that shrank since
		// fails here instead of making a corrupt entry.
		if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
			return fmt.Errorf("adding %s to tar: %w", name, err)
		}
		return nil
	default:
		return fmt.Errorf("adding %s to tar: unsupported file type %s", name, mode.Type())
	}
}

func sortedDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names, nil
}

// Level is how hard Compress works.
type Level int

const (
	// Fast compresses at zstd's default speed.
	Fast Level = iota
	// Max compresses as small as the Go encoder can, with a window that
	// covers the whole archive so repeated code anywhere in it matches.
	Max
)

// Compress returns a writer that zstd-compresses into w. size is about how
// big the archive will be (the sum of NAR sizes); it bounds the window, so
// a small archive does not cost a large one's memory to make or to unpack.
// One goroutine: the output depends only on the input, never on the
// scheduling or the number of cores.
func Compress(w io.Writer, level Level, size int64) (io.WriteCloser, error) {
	opts := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true)}
	switch level {
	case Fast:
		opts = append(opts, zstd.WithEncoderLevel(zstd.SpeedDefault))
	case Max:
		opts = append(opts, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(WindowFor(size)))
	default:
		return nil, fmt.Errorf("unknown compression level %d", level)
	}
	enc, err := zstd.NewWriter(w, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating zstd encoder: %w", err)
	}
	return enc, nil
}

// WindowFor returns the smallest power-of-two window covering n bytes,
// within what both the encoder and np's default decoder accept.
func WindowFor(n int64) int {
	w := zstd.MinWindowSize
	for int64(w) < n && w < 1<<27 {
		w <<= 1
	}
	return w
}
