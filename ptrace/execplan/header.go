package execplan

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/np-portable/np/ptrace/guestpath"
	"golang.org/x/sys/unix"
)

// MaxInterpreters is how many #! levels the kernel follows (its
// recursion limit of binfmt handlers).
const MaxInterpreters = 4

// CheckExecutable is execve's own check: a regular file the caller may
// execute, else EACCES (ENOENT and the like as they come).
func CheckExecutable(host string) (unix.Stat_t, unix.Errno) {
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil {
		return st, guestpath.Errno(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return st, unix.EACCES
	}
	if err := unix.Faccessat(unix.AT_FDCWD, host, unix.X_OK, unix.AT_EACCESS); err != nil {
		return st, guestpath.Errno(err)
	}
	return st, 0
}

// HeaderCache keeps the first bytes of programs exec'd, keyed by what
// stat says of them (a changed file has another inode, size or mtime):
// a shell loop execs the same few programs thousands of times.
type HeaderCache map[headerKey][]byte

type headerKey struct {
	dev, ino, size uint64
	mtime, mtimeNs int64
}

// maxHeaders bounds the cache (4 KiB each).
const maxHeaders = 512

func (c *HeaderCache) Get(host string, st *unix.Stat_t) ([]byte, error) {
	k := headerKey{dev: st.Dev, ino: st.Ino, size: uint64(st.Size), mtime: st.Mtim.Sec, mtimeNs: st.Mtim.Nsec}
	if h, ok := (*c)[k]; ok {
		return h, nil
	}
	h, err := readHeader(host)
	if err != nil {
		return nil, err
	}
	if *c == nil || len(*c) >= maxHeaders {
		*c = HeaderCache{}
	}
	(*c)[k] = h
	return h, nil
}

// headerSize covers a #! line (the kernel reads 256 bytes), and usually
// an ELF header, its program headers and the interpreter's name: one read
// answers all the planning needs.
const headerSize = 4096

func readHeader(host string) ([]byte, error) {
	fd, err := unix.Open(host, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	b := make([]byte, headerSize)
	n, err := unix.Pread(fd, b, 0)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

// ParseShebang splits a #! line as the kernel does: the interpreter is
// the first word, the rest of the line (trimmed) one optional argument.
func ParseShebang(hdr []byte) (interp, opt string, ok bool) {
	line := hdr[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", false
	}
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		interp, opt = s[:i], strings.Trim(s[i:], " \t")
	} else {
		interp = s
	}
	if i := strings.IndexByte(interp, 0); i >= 0 {
		interp = interp[:i]
	}
	return interp, opt, interp != ""
}

// ELFInterp returns the PT_INTERP of the ELF file at host ("" if none).
func ELFInterp(host string, hdr []byte) (string, bool) {
	if len(hdr) < 64 {
		return "", false
	}
	le := binary.LittleEndian
	var phoff uint64
	var phentsize, phnum int
	minEntry := 56 // Elf64_Phdr
	switch hdr[4] {
	case 2: // ELFCLASS64
		phoff, phentsize, phnum = le.Uint64(hdr[32:]), int(le.Uint16(hdr[54:])), int(le.Uint16(hdr[56:]))
	case 1: // ELFCLASS32
		phoff, phentsize, phnum = uint64(le.Uint32(hdr[28:])), int(le.Uint16(hdr[42:])), int(le.Uint16(hdr[44:]))
		minEntry = 32 // Elf32_Phdr
	default:
		return "", false
	}
	if phnum == 0 || phnum > 256 {
		return "", true
	}
	if phentsize < minEntry {
		return "", false // malformed: the kernel decides
	}
	// read returns size bytes at off, from hdr when it has them.
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	read := func(off, size uint64) ([]byte, bool) {
		if off+size <= uint64(len(hdr)) && off+size >= off {
			return hdr[off : off+size], true
		}
		if fd < 0 {
			var err error
			if fd, err = unix.Open(host, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return nil, false
			}
		}
		b := make([]byte, size)
		n, err := unix.Pread(fd, b, int64(off))
		return b, err == nil && n == len(b)
	}
	ph, ok := read(phoff, uint64(phentsize*phnum))
	if !ok {
		return "", false
	}
	for i := 0; i < phnum; i++ {
		e := ph[i*phentsize:]
		if le.Uint32(e) != 3 { // PT_INTERP
			continue
		}
		var off, size uint64
		if hdr[4] == 2 {
			off, size = le.Uint64(e[8:]), le.Uint64(e[32:])
		} else {
			off, size = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[16:]))
		}
		if size == 0 || size > unix.PathMax {
			return "", false
		}
		b, ok := read(off, size)
		if !ok {
			return "", false
		}
		return strings.TrimRight(string(b), "\x00"), true
	}
	return "", true
}
