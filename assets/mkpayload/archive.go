package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"np/assets/storepath"
	"np/extract"
)

// describe computes NAR hash, size and references for every path. A
// reference is any payload path whose hash part occurs in the NAR,
// including the path itself, which is exactly what Nix would record.
func describe(paths []*storePath) ([]extract.PathEntry, error) {
	byHash := map[string]*storePath{}
	var hashes []string
	for _, p := range paths {
		byHash[p.hash] = p
		hashes = append(hashes, p.hash)
	}
	var out []extract.PathEntry
	for _, p := range paths {
		info, err := storepath.Scan(p.dir, hashes)
		if err != nil {
			return nil, fmt.Errorf("describing %s: %w", p.name, err)
		}
		refs := []string{}
		for _, h := range info.Refs {
			refs = append(refs, byHash[h].full())
		}
		sort.Strings(refs)
		out = append(out, extract.PathEntry{
			Path:       p.full(),
			NarHash:    hex.EncodeToString(info.NARHash[:]),
			NarSize:    info.NARSize,
			References: refs,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// canonicalTime is the mtime Nix gives everything in the store.
var canonicalTime = time.Unix(1, 0)

// writeTar produces the uncompressed payload: manifest.json first, so the
// installer can read it before committing to unpack anything, then every
// store path as store/<hash>-<name>/... in sorted depth-first order with
// Nix's canonical permissions and no owner names or extra timestamps.
func writeTar(storeDir string, m *extract.Manifest) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	mj = append(mj, '\n')
	if err := tw.WriteHeader(header("manifest.json", tar.TypeReg, 0o444, int64(len(mj)), "")); err != nil {
		return nil, fmt.Errorf("writing manifest to tar: %w", err)
	}
	if _, err := tw.Write(mj); err != nil {
		return nil, fmt.Errorf("writing manifest to tar: %w", err)
	}
	names, err := sortedDir(storeDir)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := tarTree(tw, filepath.Join(storeDir, n), "store/"+n); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finishing tar: %w", err)
	}
	return buf.Bytes(), nil
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
		if _, err := io.Copy(tw, f); err != nil {
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

// compress returns the zstd payload and a word on how it was made. Every
// result is decoded again with klauspost's decoder at default settings,
// which is what np uses at run time, so a frame it cannot read (for
// example a window beyond its default limit) fails the build, not a user.
func compress(c *config, tarball []byte) ([]byte, string, error) {
	var out []byte
	var how string
	var err error
	switch c.compress {
	case "go":
		out, how, err = compressGo(tarball)
	case "cli":
		out, how, err = compressCLI(c, tarball)
	default:
		return nil, "", fmt.Errorf("choosing compressor: unknown -compress %q", c.compress)
	}
	if err != nil {
		return nil, "", err
	}
	if err := checkDecode(out, tarball); err != nil {
		return nil, "", err
	}
	return out, how, nil
}

func compressGo(tarball []byte) ([]byte, string, error) {
	// One goroutine and a one-shot EncodeAll keep the output independent
	// of scheduling; the window covers the whole tarball so repeated
	// library code anywhere in it can be matched.
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(windowFor(len(tarball))),
		zstd.WithEncoderCRC(true),
	)
	if err != nil {
		return nil, "", fmt.Errorf("creating zstd encoder: %w", err)
	}
	out := enc.EncodeAll(tarball, nil)
	if err := enc.Close(); err != nil {
		return nil, "", fmt.Errorf("closing zstd encoder: %w", err)
	}
	return out, "zstd (go, best)", nil
}

// windowFor returns the smallest power-of-two window covering n bytes,
// within what both the encoder and np's default decoder accept.
func windowFor(n int) int {
	w := zstd.MinWindowSize
	for w < n && w < 1<<27 {
		w <<= 1
	}
	return w
}

func compressCLI(c *config, tarball []byte) ([]byte, string, error) {
	// --long=27 stays far below the 512 MiB window klauspost's decoder
	// accepts by default, and --stream-size records the content size so
	// the window shrinks to the tarball's size, bounding decoder memory.
	// -T1 because multithreaded zstd output differs from single-threaded
	// output and must not depend on the build machine's core count.
	args := []string{"-q", "-c", "-T1", "--ultra", "-22", "--long=27", "--no-progress",
		"--stream-size=" + strconv.Itoa(len(tarball))}
	cmd := exec.Command(c.zstdCLI, args...)
	cmd.Stdin = bytes.NewReader(tarball)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("running %s %s: %w: %s", c.zstdCLI, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, "zstd -22", nil
}

func checkDecode(payload, tarball []byte) error {
	dec, err := zstd.NewReader(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("checking payload decodes: %w", err)
	}
	defer dec.Close()
	h := sha256.New()
	if _, err := io.Copy(h, dec); err != nil {
		return fmt.Errorf("checking payload decodes: %w", err)
	}
	if want := sha256.Sum256(tarball); !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("checking payload decodes: round trip gave different bytes")
	}
	return nil
}
