package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interruptSignals end a first-run install: the user (or a service
// manager) wants np gone.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// interruptWatch notices interrupt signals while np installs. While a probe
// or a registration step runs, np catches these signals to pass them on to
// the step (proc.RunHook); the step then fails because it was killed,
// which must not be taken for a probe result (a ^C during the build-sandbox
// probe used to write `sandbox = false` for good and run the program).
type interruptWatch struct{ ch chan os.Signal }

// watchInterrupts starts watching; signals np inherited as ignored stay
// ignored (nohup, a background job's SIGINT).
func watchInterrupts() *interruptWatch {
	w := &interruptWatch{ch: make(chan os.Signal, len(interruptSignals))}
	for _, sig := range interruptSignals {
		if !signal.Ignored(sig) {
			signal.Notify(w.ch, sig)
		}
	}
	return w
}

func (w *interruptWatch) stop() { signal.Stop(w.ch) }

// check returns an *interruptedError if an interrupt signal arrived since
// watching began.
func (w *interruptWatch) check() error {
	select {
	case sig := <-w.ch:
		w.ch <- sig // later checks see it too
		return &interruptedError{sig: sig.(syscall.Signal)}
	default:
		return nil
	}
}

// interruptedError: np was told to stop during an install. main ends np by
// the same signal, as the interrupted step would have ended.
type interruptedError struct{ sig syscall.Signal }

func (e *interruptedError) Error() string {
	return fmt.Sprintf("interrupted by %v during the first run's install; nothing was recorded, the next run installs again", e.sig)
}

func isInterrupt(err error) bool {
	var ie *interruptedError
	return errors.As(err, &ie)
}
