package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/extract/pack"
	"github.com/np-portable/np/internal/storepath"
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

// writeTar produces the uncompressed payload (see package pack: manifest
// first, then the store paths with canonical metadata).
func writeTar(storeDir string, m *extract.Manifest) ([]byte, error) {
	var buf bytes.Buffer
	if err := pack.WriteTar(&buf, m, storeDir); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
		zstd.WithWindowSize(pack.WindowFor(int64(len(tarball)))),
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
