package launch

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
)

// Marker is what the helper writes on its status pipe once the program
// runs; a failure never starts with it.
const Marker = 'x'

// Launch is the parent's end of one start of a helper. The zero value is
// ready for Prepare; CloseAll (of the embedded Plumbing) releases
// everything, so a runtime defers it before calling Prepare.
type Launch struct {
	proc.Plumbing
	// Request is what Send writes; Prepare fills it in, the runtime adds
	// its Options.
	Request Request

	helper                *Helper
	files                 []*os.File // passed fds at their numbers - 3, then the pipes, then AddFD's
	specW, statusR        *os.File
	stdin, stdout, stderr *os.File
	status                []byte
	readErr               error

	// Decode, when set, reads the helper's failure from its status
	// instead of Helper.DecodeFailure: a Forked helper writes its own
	// form.
	Decode func(status []byte) error
}

// Prepare readies a start of h for spec (a probe when probe is set): it
// resolves the Nix directory, duplicates the fds to pass on, and makes the
// spec and status pipes and the stdio. Its failures are *SetupError.
func (l *Launch) Prepare(h *Helper, spec *Spec, probe bool) error {
	l.helper = h
	nixDir, err := resolveDir(spec.NixDir)
	if err != nil {
		return &SetupError{Step: "checking nix directory", Path: spec.NixDir, Err: err}
	}
	l.Request = Request{NixDir: nixDir, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir,
		Probe: probe, LogLevel: uint32(logrus.GetLevel())}
	if !probe {
		l.Request.KeepFDs = spec.PassFDs
	}
	passed, err := l.DupAll(l.Request.KeepFDs)
	if err != nil {
		return &SetupError{Step: "passing inherited fds", Err: err}
	}
	var specR, specW *os.File
	if !h.Forked {
		if specR, specW, err = l.Pipe(true); err != nil {
			return &SetupError{Step: "creating spec pipe", Err: err}
		}
	}
	statusR, statusW, err := l.Pipe(false)
	if err != nil {
		return &SetupError{Step: "creating status pipe", Err: err}
	}
	l.stdin, l.stdout, l.stderr, err = l.Stdio(spec.Stdin, spec.Stdout, spec.Stderr)
	if err != nil {
		return &SetupError{Step: "connecting stdio", Err: err}
	}
	l.specW, l.statusR = specW, statusR
	// Fds the caller passed on purpose keep their numbers in the helper
	// (and so in the program); the two pipes follow them.
	if n := len(l.Request.KeepFDs); n > 0 {
		top := l.Request.KeepFDs[n-1]
		l.files = make([]*os.File, top-2, top+h.ExtraFDs)
		for i, fd := range l.Request.KeepFDs {
			l.files[fd-3] = passed[i]
		}
	}
	if specR != nil {
		l.files = append(l.files, specR)
	}
	l.files = append(l.files, statusW)
	return nil
}

// ChildFiles are the fds the helper starts with: its stdio, then
// (ExtraFiles) the passed fds at their numbers - 3 (nil in the gaps), the
// spec pipe unless the helper is Forked, the status pipe and AddFD's.
func (l *Launch) ChildFiles() (stdio [3]*os.File, extra []*os.File) {
	return [3]*os.File{l.stdin, l.stdout, l.stderr}, l.files
}

// AddFD hands f to the helper after the pipes (Helper.ExtraFDs of them);
// Launch closes it once the helper runs.
func (l *Launch) AddFD(f *os.File) {
	l.AddChildEnd(f)
	l.files = append(l.files, f)
}

// Command is the helper's command: this very binary (/proc/self/exe, even
// if replaced on disk meanwhile), argv[1] naming the helper, then the fd
// numbers of the spec pipe, the status pipe and the AddFD files, with the
// helper's own environment. The runtime adds SysProcAttr and runs it.
func (l *Launch) Command() *exec.Cmd {
	first := 3 + len(l.files) - 2 - l.helper.ExtraFDs
	args := make([]string, 0, 4+l.helper.ExtraFDs)
	args = append(args, os.Args[0], l.helper.Arg)
	for fd := first; fd < 3+len(l.files); fd++ {
		args = append(args, strconv.Itoa(fd))
	}
	return &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       args,
		Env:        helperEnv,
		Stdin:      l.stdin,
		Stdout:     l.stdout,
		Stderr:     l.stderr,
		ExtraFiles: l.files,
	}
}

// helperEnv is a helper's own environment (see proc.HelperEnv).
var helperEnv = proc.HelperEnv()

// Send writes the Request to the helper and closes the spec pipe. A
// failure means the helper died before reading it, which Result reports
// with the helper's status, so the caller may ignore it.
func (l *Launch) Send() error {
	var e wire.Encoder
	l.Request.Encode(&e)
	return proc.WriteAll(l.specW, e.Bytes())
}

// ReadStatus reads the helper's status pipe and starts feeding a copied
// stdin once the program runs. The marker alone means it runs: the ns init
// writes it once the program has started and keeps the pipe open while it
// runs (its closing tells the init that np died), so ReadStatus returns at
// the marker; the ptrace stub writes it right before exec, whose
// close-on-exec closes the pipe, or a failure follows when exec fails, so
// with untilEOF ReadStatus reads on to EOF. It returns the read error
// (Result reports it too).
func (l *Launch) ReadStatus(untilEOF bool) error {
	first := make([]byte, 1)
	n, err := io.ReadFull(l.statusR, first)
	var rest []byte
	if n == 1 && (first[0] != Marker || untilEOF) {
		rest, err = io.ReadAll(l.statusR)
	}
	if err == io.EOF {
		err = nil
	}
	l.status, l.readErr = append(first[:n], rest...), err
	if err == nil && len(l.status) == 1 && l.status[0] == Marker {
		l.StartStdin()
	}
	return err
}

// Result is how the start ended, once the helper was waited for (ws is
// its wait status; for a helper that became the program, the program's):
//   - the status pipe could not be read: a *SetupError;
//   - the helper died without a word, killed by a signal (^C from the
//     terminal reaches it too): ws and no error, so np ends the same way,
//     with no fallback;
//   - it died otherwise: a *SetupError of step Helper.Start wrapping
//     Helper.Died;
//   - it sent a failure: that (DecodeFailure);
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
		return 0, l.decode(st)
	case len(st) > 1:
		return 0, l.decode(st[1:])
	}
	return ws, nil
}

func (l *Launch) decode(status []byte) error {
	if l.Decode != nil {
		return l.Decode(status)
	}
	return l.helper.DecodeFailure(status)
}
