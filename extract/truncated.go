package extract

import (
	"encoding/binary"
	"fmt"
	"os"
)

// missingTrailer explains a binary without a payload trailer. A plain `go
// build` ends exactly where the last of its ELF sections and segments ends:
// that is ErrNoPayload. A file shorter than that, or longer without a
// trailer, is a truncated or corrupt download, which must not be sent to
// `make`.
func missingTrailer(f *os.File, size int64) error {
	end, ok := elfEnd(f)
	switch {
	case !ok:
		return ErrNoPayload // not a 64-bit little-endian ELF: nothing more to say
	case size < end:
		return fmt.Errorf("%s is truncated: %d bytes, while its program part alone takes %d; re-download or rebuild np", f.Name(), size, end)
	case size > end:
		return fmt.Errorf("%s is truncated or corrupt: %d bytes follow its program but no payload trailer ends them; re-download or rebuild np", f.Name(), size-end)
	}
	return ErrNoPayload
}

// elfEnd returns where the ELF image in f ends: the end of its header
// tables, segments and sections (read by hand: debug/elf would add 300 KB
// to np for these few fields). A table that lies beyond the end of the
// file still counts, so a cut file comes out shorter than its image.
func elfEnd(f *os.File) (int64, bool) {
	le := binary.LittleEndian
	h := make([]byte, 64)
	if _, err := f.ReadAt(h, 0); err != nil || string(h[:4]) != "\x7fELF" || h[4] != 2 || h[5] != 1 {
		return 0, false
	}
	phoff, shoff := int64(le.Uint64(h[0x20:])), int64(le.Uint64(h[0x28:]))
	phentsize, phnum := int64(le.Uint16(h[0x36:])), int64(le.Uint16(h[0x38:]))
	shentsize, shnum := int64(le.Uint16(h[0x3a:])), int64(le.Uint16(h[0x3c:]))
	end := max(phoff+phentsize*phnum, shoff+shentsize*shnum)
	table := func(off, entsize, n int64, each func(e []byte)) {
		if entsize < 40 || n == 0 || n > 4096 {
			return
		}
		buf := make([]byte, entsize*n)
		if _, err := f.ReadAt(buf, off); err != nil {
			return // beyond the end: end already says so
		}
		for i := int64(0); i < n; i++ {
			each(buf[i*entsize : (i+1)*entsize])
		}
	}
	table(phoff, phentsize, phnum, func(e []byte) { // p_offset, p_filesz
		end = max(end, int64(le.Uint64(e[8:])+le.Uint64(e[32:])))
	})
	table(shoff, shentsize, shnum, func(e []byte) { // sh_type, sh_offset, sh_size
		if le.Uint32(e[4:]) != 8 { // SHT_NOBITS takes no room in the file
			end = max(end, int64(le.Uint64(e[24:])+le.Uint64(e[32:])))
		}
	})
	return end, true
}
