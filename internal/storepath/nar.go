package storepath

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// narWriter emits NAR tokens. Every string in a NAR is a little-endian
// 64-bit length followed by the bytes, zero-padded to a multiple of 8.
type narWriter struct {
	w   io.Writer
	err error
}

var zeros [8]byte

func (n *narWriter) str(s string) {
	if n.err != nil {
		return
	}
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(len(s)))
	if _, n.err = n.w.Write(l[:]); n.err != nil {
		return
	}
	if _, n.err = io.WriteString(n.w, s); n.err != nil {
		return
	}
	n.pad(int64(len(s)))
}

func (n *narWriter) pad(size int64) {
	if n.err != nil {
		return
	}
	if r := size % 8; r != 0 {
		_, n.err = n.w.Write(zeros[:8-r])
	}
}

// WriteNAR writes the NAR serialisation of the file tree at path to w, with
// the same rules Nix uses when it adds a path to the store: only the
// owner-execute bit of regular files is kept, directory entries are sorted
// bytewise, and everything else (times, owners, other mode bits) is dropped.
func WriteNAR(w io.Writer, path string) error {
	n := &narWriter{w: w}
	n.str("nix-archive-1")
	if n.err != nil {
		return fmt.Errorf("writing nar header: %w", n.err)
	}
	return n.node(path)
}

func (n *narWriter) node(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("serialising %s: %w", path, err)
	}
	n.str("(")
	n.str("type")
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		n.str("regular")
		if mode.Perm()&0o100 != 0 {
			n.str("executable")
			n.str("")
		}
		n.str("contents")
		if err := n.contents(path, fi.Size()); err != nil {
			return err
		}
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("serialising %s: %w", path, err)
		}
		n.str("symlink")
		n.str("target")
		n.str(target)
	case mode.IsDir():
		n.str("directory")
		names, err := readDirNames(path)
		if err != nil {
			return err
		}
		for _, name := range names {
			n.str("entry")
			n.str("(")
			n.str("name")
			n.str(name)
			n.str("node")
			if err := n.node(filepath.Join(path, name)); err != nil {
				return err
			}
			n.str(")")
		}
	default:
		return fmt.Errorf("serialising %s: unsupported file type %s", path, mode.Type())
	}
	n.str(")")
	if n.err != nil {
		return fmt.Errorf("serialising %s: %w", path, n.err)
	}
	return nil
}

// contents streams a regular file whose length was already taken from
// lstat; a file that changes size underneath would yield a corrupt NAR, so
// that is an error rather than silently wrong output.
func (n *narWriter) contents(path string, size int64) error {
	if n.err != nil {
		return fmt.Errorf("serialising %s: %w", path, n.err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("serialising %s: %w", path, err)
	}
	defer f.Close()
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], uint64(size))
	if _, err := n.w.Write(l[:]); err != nil {
		return fmt.Errorf("serialising %s: %w", path, err)
	}
	got, err := io.Copy(n.w, io.LimitReader(f, size+1))
	if err != nil {
		return fmt.Errorf("serialising %s: %w", path, err)
	}
	if got != size {
		return fmt.Errorf("serialising %s: size changed from %d to %d while reading", path, size, got)
	}
	n.pad(size)
	return nil
}

func readDirNames(path string) ([]string, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", path, err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	// Nix orders entries by std::string comparison, which is bytewise;
	// Go's string ordering is the same, sorted here so the order does not
	// depend on ReadDir's documented-but-incidental sorting.
	sort.Strings(names)
	return names, nil
}

// countingWriter counts bytes so the NAR size comes out of the same pass as
// the hash.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// RefScanner is an io.Writer that looks for store-path hash parts in a byte
// stream, the way Nix scans a NAR for references: a path refers to another if
// the other's 32-character hash part occurs anywhere in its serialisation.
type RefScanner struct {
	want  []string
	found map[string]bool
	tail  []byte
}

// NewRefScanner returns a scanner for the given hash parts.
func NewRefScanner(hashParts []string) *RefScanner {
	return &RefScanner{want: hashParts, found: map[string]bool{}}
}

// Write scans p, carrying the last bytes of the previous write so a hash
// part split across two writes is still found.
func (r *RefScanner) Write(p []byte) (int, error) {
	if len(r.found) == len(r.want) {
		return len(p), nil
	}
	buf := append(r.tail, p...)
	for _, h := range r.want {
		if !r.found[h] && bytes.Contains(buf, []byte(h)) {
			r.found[h] = true
		}
	}
	keep := HashPartLen - 1
	if len(buf) < keep {
		keep = len(buf)
	}
	r.tail = append(r.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}

// Found returns the hash parts seen so far, sorted.
func (r *RefScanner) Found() []string {
	out := make([]string, 0, len(r.found))
	for h := range r.found {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Info is what Nix's database records about a store path's contents.
type Info struct {
	NARHash [32]byte
	NARSize int64
	// Refs holds the hash parts (from the candidates given) that occur in
	// the path's NAR, sorted.
	Refs []string
}

// Scan serialises path once and returns its NAR SHA-256, NAR size and which
// of the candidate hash parts it refers to.
func Scan(path string, candidates []string) (Info, error) {
	h := sha256.New()
	c := &countingWriter{}
	r := NewRefScanner(candidates)
	if err := WriteNAR(io.MultiWriter(h, c, r), path); err != nil {
		return Info{}, err
	}
	var info Info
	copy(info.NARHash[:], h.Sum(nil))
	info.NARSize = c.n
	info.Refs = r.Found()
	return info, nil
}

// NARHash returns the SHA-256 and length of the NAR serialisation of path.
func NARHash(path string) (sum [32]byte, size int64, err error) {
	info, err := Scan(path, nil)
	return info.NARHash, info.NARSize, err
}
