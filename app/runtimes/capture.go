package runtimes

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Capture collects a helper program's output for an error message.
type Capture struct{ bytes.Buffer }

// Captured turns a helper program's end into an error carrying its output.
func Captured(ws syscall.WaitStatus, err error, name string, out *Capture) error {
	if err == nil && ws.Signaled() {
		err = fmt.Errorf("%s killed by %v", name, ws.Signal())
	} else if err == nil && ws.ExitStatus() != 0 {
		err = fmt.Errorf("%s exited with status %d", name, ws.ExitStatus())
	}
	if text := strings.TrimSpace(out.String()); err != nil && text != "" {
		return &OutputError{err: err, out: text}
	}
	return err
}

// OutputError is a failed helper program and what it printed.
type OutputError struct {
	err error
	out string
}

func (e *OutputError) Error() string { return e.err.Error() + ":\n" + e.out }
func (e *OutputError) Unwrap() error { return e.err }

// FirstError picks the line of Nix's output that says what went wrong.
func FirstError(err error) string {
	var oe *OutputError
	if errors.As(err, &oe) {
		for _, l := range strings.Split(oe.out, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "error:") {
				return l
			}
		}
		return oe.err.Error()
	}
	return err.Error()
}
