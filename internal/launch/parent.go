package launch

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/np-portable/np/internal/proc"
)

// Marker is what the child writes on its status pipe once the program
// runs; a runtime's failure form never starts with it.
const Marker = 'x'

// Launch is the parent's end of one start of a forked child. The zero
// value is ready for Prepare; CloseAll (of the embedded Plumbing) releases
// everything, so a runtime defers it before calling Prepare.
type Launch struct {
	proc.Plumbing
	// Request is what the child is to do; Prepare fills it in.
	Request Request

	helper                *Helper
	files                 []*os.File // passed fds at their numbers - 3, then the status pipe
	statusR               *os.File
	stdin, stdout, stderr *os.File
	status                []byte
	readErr               error

	// Decode reads the child's failure from its status (the runtime's
	// own form, whose first byte is never Marker). The runtime sets it
	// before Result.
	Decode func(status []byte) error
}

// Prepare readies a start of h for spec (a probe when probe is set): it
// resolves the Nix directory, duplicates the fds to pass on, and makes the
// status pipe and the stdio. Its failures are *SetupError.
func (l *Launch) Prepare(h *Helper, spec *Spec, probe bool) error {
	l.helper = h
	nixDir, err := resolveDir(spec.NixDir)
	if err != nil {
		return &SetupError{Step: "checking nix directory", Path: spec.NixDir, Err: err}
	}
	l.Request = Request{NixDir: nixDir, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir, Probe: probe}
	if !probe {
		l.Request.KeepFDs = spec.PassFDs
	}
	passed, err := l.DupAll(l.Request.KeepFDs)
	if err != nil {
		return &SetupError{Step: "passing inherited fds", Err: err}
	}
	statusR, statusW, err := l.Pipe(false)
	if err != nil {
		return &SetupError{Step: "creating status pipe", Err: err}
	}
	l.stdin, l.stdout, l.stderr, err = l.Stdio(spec.Stdin, spec.Stdout, spec.Stderr)
	if err != nil {
		return &SetupError{Step: "connecting stdio", Err: err}
	}
	l.statusR = statusR
	// Fds the caller passed on purpose keep their numbers in the child
	// (and so in the program); the status pipe follows them.
	if n := len(l.Request.KeepFDs); n > 0 {
		top := l.Request.KeepFDs[n-1]
		l.files = make([]*os.File, top-2, top-1)
		for i, fd := range l.Request.KeepFDs {
			l.files[fd-3] = passed[i]
		}
	}
	l.files = append(l.files, statusW)
	return nil
}

// ChildFiles are the fds the child is to start with: its stdio, then the
// passed fds at their numbers - 3 (nil in the gaps) and the status pipe;
// the runtime's child moves them into place before exec.
func (l *Launch) ChildFiles() (stdio [3]*os.File, extra []*os.File) {
	return [3]*os.File{l.stdin, l.stdout, l.stderr}, l.files
}

// ReadStatus reads the child's status pipe and starts feeding a copied
// stdin once the program runs. The marker alone means it runs: the child
// writes it once the program has started and may keep the pipe open while
// the program runs (the ns init does: its closing tells the init that np
// died), so ReadStatus returns at the marker; anything else is a failure,
// read to EOF. It returns the read error (Result reports it too).
func (l *Launch) ReadStatus() error {
	first := make([]byte, 1)
	n, err := io.ReadFull(l.statusR, first)
	var rest []byte
	if n == 1 && first[0] != Marker {
		rest, err = io.ReadAll(l.statusR)
	}
	if err == io.EOF {
		err = nil
	}
	l.status, l.readErr = append(first[:n], rest...), err
	if err == nil && n == 1 && first[0] == Marker {
		l.StartStdin()
	}
	return err
}

// Result is how the start ended, once the child was waited for (ws is
// its wait status; for a child that became the program, the program's):
//   - the status pipe could not be read: a *SetupError;
//   - the child died without a word, killed by a signal (^C from the
//     terminal reaches it too): ws and no error, so np ends the same way,
//     with no fallback;
//   - it died otherwise: a *SetupError of step Helper.Start wrapping
//     Helper.Died;
//   - it sent a failure: what Decode makes of it;
//   - the program ran: ws and no error.
func (l *Launch) Result(ws syscall.WaitStatus) (syscall.WaitStatus, error) {
	h, st := l.helper, l.status
	switch {
	case l.readErr != nil:
		return 0, &SetupError{Step: h.statusStep(), Err: l.readErr}
	case len(st) == 0 && ws.Signaled():
		return ws, nil
	case len(st) == 0:
		return 0, &SetupError{Step: h.Start, Err: fmt.Errorf("%w: %s", h.Died, proc.DescribeStatus(ws))}
	case st[0] != Marker:
		return 0, l.Decode(st)
	}
	return ws, nil
}
