package launch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
)

// Child is the helper's end of the handshake.
type Child struct {
	helper *Helper
	specFD int
	// Status is the status pipe, close-on-exec: it closes when the
	// program starts, unless the helper keeps it (see Launch.ReadStatus).
	Status *os.File
	// Extra are the numbers of the runtime's own fds (Launch.AddFD).
	Extra []int
}

// NewChild takes the helper's end from its argv (the fds Launch.Command
// names) and makes the status pipe close-on-exec at once. Its errors say
// that the helper was not started by its runtime (but by hand).
func (h *Helper) NewChild() (*Child, error) {
	if len(os.Args) != 4+h.ExtraFDs {
		return nil, fmt.Errorf("%s: wrong arguments (not started by %s?)", h.Name, h.Caller)
	}
	fds := make([]int, 2+h.ExtraFDs)
	for i := range fds {
		fd, err := strconv.Atoi(os.Args[2+i])
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("%s: bad fd %q (not started by %s?)", h.Name, os.Args[2+i], h.Caller)
		}
		fds[i] = fd
	}
	status := fds[1]
	if _, err := unix.FcntlInt(uintptr(status), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil, fmt.Errorf("%s: status pipe (fd %d): %w (not started by %s?)", h.Name, status, err, h.Caller)
	}
	return &Child{helper: h, specFD: fds[0], Status: os.NewFile(uintptr(status), "status pipe"), Extra: fds[2:]}, nil
}

// ReadRequest reads the parent's Request from the spec pipe (to EOF, so
// it returns once the parent has sent it) and closes the pipe; opts
// receives the runtime's options. A Request that is no probe names a
// program.
func (c *Child) ReadRequest(opts Options) (*Request, error) {
	f := os.NewFile(uintptr(c.specFD), "spec pipe")
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	r, err := DecodeRequest(b, opts)
	if err != nil {
		return nil, err
	}
	if !r.Probe && len(r.Argv) == 0 {
		return nil, errors.New("no program given")
	}
	return r, nil
}

// Started tells the parent that the program runs (or that a probe got
// as far as exec).
func (c *Child) Started() error {
	_, err := c.Status.Write([]byte{Marker})
	return err
}

// Fail sends err to the parent. Once the parent has it, the helper's
// stderr points at /dev/null: reporting it is the parent's job, and the
// parent may quietly fall back to another runtime, so the helper's own
// "np: ..." line (Exit) must not reach the user.
func (c *Child) Fail(err error) {
	if _, werr := c.Status.Write(c.helper.EncodeFailure(err)); werr == nil {
		proc.SilenceStderr()
	}
}

// ErrProbeDone ends a probe's set-up right before exec: all went well
// (ProbeDone reported it).
var ErrProbeDone = errors.New("probe set-up complete")

// ProbeDone reports a probe that got as far as exec, and returns
// ErrProbeDone for the helper to end with 0.
func (c *Child) ProbeDone() error {
	if err := c.Started(); err != nil {
		return &SetupError{Step: "reporting probe result", Err: err}
	}
	return ErrProbeDone
}

// Program finds r's program on the PATH of env, as the program will see
// the files, and closes every fd >= 3 but r.KeepFDs, so the program
// inherits nothing of np's. It returns the file to exec, or a
// *proc.LookupError.
func (c *Child) Program(r *Request, env []string) (string, error) {
	file, err := proc.LookPathEnv(r.Argv[0], env)
	if err != nil {
		return "", err
	}
	if err := proc.CloseExtraFDs(r.KeepFDs...); err != nil {
		return "", &SetupError{Step: "closing stray fds", Err: err}
	}
	return file, nil
}
