package extract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/plainfile"
)

// The stamp is what every command checks instead of walking np's store
// paths entry by entry (quickCheck: ~500 lstat and readlink calls, and the
// 58 kB install record to decode first, about 2 ms together).
//
// It records, at install (and again whenever a full check finds the store
// intact), the identity of the install record and of every directory of
// the payload's store paths (inode, mtime and ctime to the nanosecond),
// and the size and mode of every regular file. Per command, np lstats the
// directories and the files and compares. What each kind of damage
// changes:
//   - a file or symbolic link deleted, renamed, replaced or added: the
//     mtime and ctime of its directory (a symbolic link cannot be changed
//     in place, so the links themselves need no readlink);
//   - a directory deleted or replaced: its parent's mtime, and its own
//     inode;
//   - a file truncated, extended or rewritten: its size, or its mtime,
//     which no longer is Nix's 1; made writable: its mode;
//   - a directory made writable (the first step of most edits): its ctime.
//
// So every damage today's full walk names is still named by the next
// command; a mismatch of any kind sends np to the full walk, which names
// what is wrong (or, when nothing is, records a new stamp: a directory
// made writable and back is no damage). The stamp lives beside the
// install record, as installs/<fingerprint>.stamp; it also carries the
// manifest, so that a command reads one small file instead of decoding
// the record.

// stampVersion is the first line's format number.
const stampVersion = "np-stamp 1"

// stampFile is where the stamp of the payload fp's install lives.
func (t Target) stampFile(fp string) string {
	return filepath.Join(t.npDir(), "installs", fp+".stamp")
}

// fileStamp is the identity of a file (the install record) as recorded.
type fileStamp struct {
	ino, size    int64
	mtime, ctime unix.Timespec
}

func fileStampOf(st *unix.Stat_t) fileStamp {
	return fileStamp{ino: int64(st.Ino), size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// stamp is a stamp file with its head parsed; body, the directory and
// file lines, is read only by matches (np --version needs the manifest
// alone).
type stamp struct {
	record   fileStamp
	manifest *Manifest
	body     string
}

// recordStamp writes the stamp of s's install as it is on disk now. It is
// best effort: without a stamp (a read-only data dir, a crash before it
// was written) every command makes the full walk instead, as np did
// before. The caller has just installed the paths or found them intact.
func (t Target) recordStamp(fp string, s *state) {
	if s.Dirs == nil && s.Links == nil {
		return // a record from before Links and Dirs: its walk stays the check
	}
	var rec unix.Stat_t
	if err := unix.Stat(t.StateFile(fp), &rec); err != nil {
		return
	}
	ml, err := manifestLine(s.Manifest)
	if err != nil {
		return
	}
	store, err := unix.Open(t.Store(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(store)
	var b bytes.Buffer
	r := fileStampOf(&rec)
	fmt.Fprintf(&b, "%s %s\nr %d %d %s %s\n%s\n", stampVersion, fp, r.ino, r.size, ts(r.mtime), ts(r.ctime), ml)
	dirs := append(s.Manifest.Names(), s.Dirs...)
	var newest unix.Timespec
	for _, d := range dirs {
		var st unix.Stat_t
		if lstatAt(store, d, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || strings.ContainsAny(d, "\n") {
			return // not as installed: no stamp, the walk decides
		}
		fmt.Fprintf(&b, "d %d %s %s %s\n", st.Ino, ts(st.Mtim), ts(st.Ctim), d)
		if later(st.Ctim, newest) {
			newest = st.Ctim
		}
	}
	for _, f := range s.Files {
		if strings.ContainsAny(f.Path, "\n") {
			return
		}
		fmt.Fprintf(&b, "f %d %o %s\n", f.Size, f.Mode, f.Path)
	}
	if WriteFileAtomic(t.stampFile(fp), b.Bytes(), 0o644) != nil {
		return
	}
	// File times come from a clock that ticks every few milliseconds: a
	// directory changed in the tick the stamp was taken in could change
	// again in that tick and keep its times. Such a stamp proves nothing
	// (git calls its index "racily clean" then); the next command walks
	// and stamps again, a tick later. Every change sets ctime, so ctime
	// alone tells.
	var own unix.Stat_t
	if unix.Stat(t.stampFile(fp), &own) != nil || !later(own.Mtim, newest) {
		_ = os.Remove(t.stampFile(fp))
	}
}

// later reports whether a is after b.
func later(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || a.Sec == b.Sec && a.Nsec > b.Nsec
}

// manifestLine renders m as one line: "m" and its fields separated by
// spaces, then each store path, its NAR hash, size and references, after
// a "|" each (no store path or version holds a space or a "|"). Decoding
// JSON cost every command a quarter of a millisecond, most of it Go
// building its decoder for the types. A manifest that does not fit (a
// bundle's) is a "j" line of JSON.
func manifestLine(m *Manifest) (string, error) {
	plain := func(s string) bool { return s != "" && !strings.ContainsAny(s, " |\n") }
	var b strings.Builder
	fmt.Fprintf(&b, "m %d %s %s %s %s", m.Version, m.NixVersion, m.Nix, m.Busybox, m.CABundle)
	ok := m.Bundle == nil && plain(m.NixVersion) && plain(m.Nix) && plain(m.Busybox) && plain(m.CABundle)
	for _, p := range m.Paths {
		fmt.Fprintf(&b, "|%s %s %d", p.Path, p.NarHash, p.NarSize)
		ok = ok && plain(p.Path) && plain(p.NarHash)
		for _, r := range p.References {
			b.WriteString(" " + r)
			ok = ok && plain(r)
		}
	}
	if ok {
		return b.String(), nil
	}
	j, err := json.Marshal(m)
	return "j " + string(j), err
}

// parseManifestLine reads what manifestLine wrote, or returns nil.
func parseManifestLine(l string) *Manifest {
	if j, ok := strings.CutPrefix(l, "j "); ok {
		var m *Manifest
		if json.Unmarshal([]byte(j), &m) != nil {
			return nil
		}
		return m
	}
	l, ok := strings.CutPrefix(l, "m ")
	if !ok {
		return nil
	}
	parts := strings.Split(l, "|")
	f := strings.Split(parts[0], " ")
	if len(f) != 5 {
		return nil
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return nil
	}
	m := &Manifest{Version: v, NixVersion: f[1], Nix: f[2], Busybox: f[3], CABundle: f[4]}
	for _, p := range parts[1:] {
		f := strings.Split(p, " ")
		if len(f) < 3 {
			return nil
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil
		}
		var refs []string // none: nil, as JSON's null decodes
		if len(f) > 3 {
			refs = f[3:]
		}
		m.Paths = append(m.Paths, PathEntry{Path: f[0], NarHash: f[1], NarSize: size, References: refs})
	}
	return m
}

// ts renders a timestamp as sec.nsec.
func ts(t unix.Timespec) string { return fmt.Sprintf("%d.%09d", t.Sec, t.Nsec) }

// parseTS reads what ts wrote.
func parseTS(s string) (unix.Timespec, bool) {
	sec, nsec, ok := strings.Cut(s, ".")
	if !ok {
		return unix.Timespec{}, false
	}
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(nsec, 10, 64)
	return unix.Timespec{Sec: a, Nsec: b}, err1 == nil && err2 == nil
}

// readStamp reads the stamp of the payload fp's install, or nil when
// there is none, it is malformed, or the install record it was taken
// with has changed or gone (np gc --versions, a reinstall).
func (t Target) readStamp(fp string) *stamp {
	data, err := plainfile.ReadFile(t.stampFile(fp))
	if err != nil {
		return nil
	}
	rest := string(data)
	line := func() string {
		l, r, _ := strings.Cut(rest, "\n")
		rest = r
		return l
	}
	if line() != stampVersion+" "+fp {
		return nil
	}
	var s stamp
	r := strings.Fields(line())
	if len(r) != 5 || r[0] != "r" {
		return nil
	}
	var ok1, ok2 bool
	s.record.ino, err = strconv.ParseInt(r[1], 10, 64)
	if err != nil {
		return nil
	}
	if s.record.size, err = strconv.ParseInt(r[2], 10, 64); err != nil {
		return nil
	}
	s.record.mtime, ok1 = parseTS(r[3])
	s.record.ctime, ok2 = parseTS(r[4])
	if !ok1 || !ok2 {
		return nil
	}
	var rec unix.Stat_t
	if unix.Stat(t.StateFile(fp), &rec) != nil || fileStampOf(&rec) != s.record {
		return nil
	}
	if s.manifest = parseManifestLine(line()); s.manifest == nil {
		return nil
	}
	s.body = rest
	return &s
}

// matches reports whether every directory and file the stamp records is
// as it was: one lstat each, no readlink. It parses the lines as it goes,
// without allocating: they are a few hundred, read on every command.
func (s *stamp) matches(storeDir string) bool {
	store, err := unix.Open(storeDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(store)
	var st unix.Stat_t
	path := make([]byte, 0, 256) // the entry's name, NUL-terminated for the call
	for rest := s.body; rest != ""; {
		var l string
		l, rest, _ = strings.Cut(rest, "\n")
		if len(l) < 2 || l[1] != ' ' {
			return false
		}
		kind := l[0]
		l = l[2:]
		switch kind {
		case 'd':
			var ino, ms, mns, cs, cns int64
			var ok bool
			if ino, l, ok = field(l, ' '); !ok {
				return false
			}
			if ms, l, ok = field(l, '.'); !ok {
				return false
			}
			if mns, l, ok = field(l, ' '); !ok {
				return false
			}
			if cs, l, ok = field(l, '.'); !ok {
				return false
			}
			if cns, l, ok = field(l, ' '); !ok {
				return false
			}
			path = append(append(path[:0], l...), 0)
			if lstatBytes(store, path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || int64(st.Ino) != ino ||
				st.Mtim.Sec != ms || st.Mtim.Nsec != mns || st.Ctim.Sec != cs || st.Ctim.Nsec != cns {
				return false
			}
		case 'f':
			size, l, ok := field(l, ' ')
			if !ok {
				return false
			}
			mode, l, ok := octalField(l)
			if !ok {
				return false
			}
			path = append(append(path[:0], l...), 0)
			if lstatBytes(store, path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG ||
				st.Size != size || int64(st.Mode&0o7777) != mode || st.Mtim.Sec != 1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// field parses the decimal number that starts l and ends at sep, and
// returns it with what follows sep.
func field(l string, sep byte) (int64, string, bool) {
	var n int64
	i := 0
	for ; i < len(l) && l[i] >= '0' && l[i] <= '9'; i++ {
		n = n*10 + int64(l[i]-'0')
	}
	if i == 0 || i == len(l) || l[i] != sep {
		return 0, "", false
	}
	return n, l[i+1:], true
}

// octalField parses the octal number that starts l and ends at a space.
func octalField(l string) (int64, string, bool) {
	var n int64
	i := 0
	for ; i < len(l) && l[i] >= '0' && l[i] <= '7'; i++ {
		n = n*8 + int64(l[i]-'0')
	}
	if i == 0 || i == len(l) || l[i] != ' ' {
		return 0, "", false
	}
	return n, l[i+1:], true
}

// stamped returns the manifest of the payload fp's install when its stamp
// shows the store paths as installed, or nil: then the full walk decides.
func (t Target) stamped(fp string) *Manifest {
	if s := t.readStamp(fp); s != nil && s.matches(t.Store()) {
		return s.manifest
	}
	return nil
}
