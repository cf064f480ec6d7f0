package install

import (
	"fmt"
	"io"
	"sync"
)

// stepLine shows, on a terminal, the install step np is in, on the line
// the progress bar uses. Without it the screen stays still from the end
// of unpacking until Nix's first output: registering, signing and the
// build-sandbox probe take seconds on a local disk but minutes on a slow
// NFS home, where upstream nix-portable's users took the same silence for
// a hang (its issue 152).
type stepLine struct {
	w io.Writer
	// what np is doing: "installing Nix (first run)", or "repairing Nix"
	// for np repair, which runs the same steps on an installed data dir.
	what  string
	mu    sync.Mutex
	shown bool
}

// show replaces the line with "np: WHAT: STEP".
func (s *stepLine) show(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "\rnp: %s: %s\033[K", s.what, step)
	s.shown = true
}

// clear empties the line again, if show wrote on it, so that what comes
// next (Nix's output, an error) starts on a clean line.
func (s *stepLine) clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown {
		fmt.Fprint(s.w, "\r\033[K")
		s.shown = false
	}
}
