// Package extract finds the payload appended to the np binary and installs it,
// safely and atomically, into a Nix directory (the data dir's nix/ or a host
// /nix).
//
// Binary layout: [Go executable][zstd-compressed tar payload][trailer]. The
// trailer is fixed-size so it can be read with one pread at the end of the file
// on every run, without touching the payload itself.
package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// trailerMagic marks a binary that carries a payload. The last byte is the
// trailer format version.
var trailerMagic = [8]byte{'N', 'P', 'P', 'A', 'Y', 'L', 'D', 1}

// bundleMagic marks a bundle (np bundle): its payload is a program's
// closure, not np's Nix, and the binary runs that program. A distinct magic
// lets a bundle know what it is from the trailer alone.
var bundleMagic = [8]byte{'N', 'P', 'B', 'U', 'N', 'D', 'L', 1}

// TrailerSize is the number of bytes the trailer adds after the payload.
const TrailerSize = 8 + 8 + 8 + sha256.Size

// ErrNoPayload means the binary was built without a payload (a plain
// `go build ./cmd/np`).
var ErrNoPayload = errors.New("this np carries no Nix payload; build a complete one with `make` (see README)")

// Trailer locates the payload inside the binary and says what it must hash to.
type Trailer struct {
	Offset int64
	Length int64
	Sum    [sha256.Size]byte
	Bundle bool // the payload is a bundle's closure (bundleMagic)
}

// Fingerprint names this payload: installs are keyed by it.
func (t Trailer) Fingerprint() string { return hex.EncodeToString(t.Sum[:]) }

// Short is the fingerprint abbreviated for humans.
func (t Trailer) Short() string { return t.Fingerprint()[:12] }

// Marshal encodes the trailer.
func (t Trailer) Marshal() []byte {
	b := make([]byte, 0, TrailerSize)
	magic := trailerMagic
	if t.Bundle {
		magic = bundleMagic
	}
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Offset))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Length))
	b = append(b, t.Sum[:]...)
	return b
}

// ReadTrailer reads the trailer at the end of f. It returns ErrNoPayload when
// f has none.
func ReadTrailer(f *os.File) (Trailer, error) {
	st, err := f.Stat()
	if err != nil {
		return Trailer{}, fmt.Errorf("reading payload trailer: %w", err)
	}
	if st.Size() < TrailerSize {
		return Trailer{}, missingTrailer(f, st.Size())
	}
	buf := make([]byte, TrailerSize)
	if _, err := f.ReadAt(buf, st.Size()-TrailerSize); err != nil {
		return Trailer{}, fmt.Errorf("reading payload trailer of %s: %w", f.Name(), err)
	}
	bundle := bytes.Equal(buf[:8], bundleMagic[:])
	if !bundle && !bytes.Equal(buf[:8], trailerMagic[:]) {
		return Trailer{}, missingTrailer(f, st.Size())
	}
	t := Trailer{
		Offset: int64(binary.LittleEndian.Uint64(buf[8:16])),
		Length: int64(binary.LittleEndian.Uint64(buf[16:24])),
		Bundle: bundle,
	}
	copy(t.Sum[:], buf[24:])
	if t.Offset < 0 || t.Length < 0 || t.Offset+t.Length != st.Size()-TrailerSize {
		return Trailer{}, fmt.Errorf("reading payload trailer of %s: offsets do not match the file size (corrupt binary; rebuild or re-download np)", f.Name())
	}
	return t, nil
}

// Attach appends payload and its trailer to the executable at binPath.
func Attach(binPath string, payload io.Reader) (Trailer, error) {
	f, err := os.OpenFile(binPath, os.O_RDWR, 0)
	if err != nil {
		return Trailer{}, fmt.Errorf("opening %s: %w", binPath, err)
	}
	defer f.Close()
	if _, err := ReadTrailer(f); err == nil {
		return Trailer{}, fmt.Errorf("attaching payload to %s: it already carries one", binPath)
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return Trailer{}, fmt.Errorf("seeking %s: %w", binPath, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), payload)
	if err != nil {
		return Trailer{}, fmt.Errorf("appending payload to %s: %w", binPath, err)
	}
	t := Trailer{Offset: off, Length: n}
	copy(t.Sum[:], h.Sum(nil))
	if _, err := f.Write(t.Marshal()); err != nil {
		return Trailer{}, fmt.Errorf("writing trailer to %s: %w", binPath, err)
	}
	return t, f.Close()
}
