package expose

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/np-portable/np/internal/plainfile"
)

// Wrapper is what a wrapper runs, read back from its last line.
type Wrapper struct {
	Location    string // NP_LOCATION to run with
	LocationSet bool   // whether the wrapper sets NP_LOCATION
	Program     string // the program in the profile
}

// Wrapped reads the wrapper np was started for through its #! line
// (np WrapperArg FILE ARGS...). It is the whole per-call cost of an
// exposed program beyond np run: one open, fstat, read and close.
func Wrapped(file string) (*Wrapper, error) {
	text, err := plainfile.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the np expose wrapper %s: %w", file, err)
	}
	w, ok := parseWrapper(text)
	if !ok {
		return nil, fmt.Errorf("%s is not an np expose wrapper np can read; run np expose DIR again to rewrite it", file)
	}
	return w, nil
}

// parseWrapper reads back what wrapperText wrote: the tag on the second
// line and execLine's form as the last line.
func parseWrapper(text []byte) (*Wrapper, bool) {
	if !isWrapperText(text) {
		return nil, false
	}
	text = bytes.TrimSuffix(text, []byte("\n"))
	line := string(text[bytes.LastIndexByte(text, '\n')+1:])
	w := &Wrapper{}
	if rest, ok := strings.CutPrefix(line, "NP_LOCATION="); ok {
		loc, rest, ok := unquote(rest)
		if !ok || !strings.HasPrefix(rest, " ") {
			return nil, false
		}
		w.Location, w.LocationSet, line = loc, true, rest[1:]
	}
	rest, ok := strings.CutPrefix(line, "exec ")
	if !ok {
		return nil, false
	}
	if _, rest, ok = unquote(rest); !ok {
		return nil, false
	}
	if rest, ok = strings.CutPrefix(rest, " run "); !ok {
		return nil, false
	}
	w.Program, rest, ok = unquote(rest)
	if !ok || rest != ` "$@"` || w.Program == "" {
		return nil, false
	}
	return w, true
}

// unquote reads one word as shellQuote writes it (in single quotes; a
// quote inside closes them, is escaped with a backslash and reopens them)
// from the start of s, and returns it and what follows it.
func unquote(s string) (string, string, bool) {
	var b strings.Builder
	for {
		if !strings.HasPrefix(s, "'") {
			return "", "", false
		}
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", "", false
		}
		b.WriteString(s[1 : 1+end])
		s = s[end+2:]
		if !strings.HasPrefix(s, `\''`) {
			return b.String(), s, true
		}
		b.WriteByte('\'')
		s = s[2:]
	}
}
