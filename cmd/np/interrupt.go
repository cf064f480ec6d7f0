package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// interruptSignals end np when they arrive during a step whose result np is
// about to record (the first install's registration and probes).
var interruptSignals = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP}

// interruptWatch notices interruptSignals arriving while a step runs. The
// signals still reach the step's program (internal/proc forwards them);
// the watch only makes sure np does not take the program's death, or its
// "interrupted" exit status, for a result.
type interruptWatch struct{ ch chan os.Signal }

func watchInterrupts() *interruptWatch {
	w := &interruptWatch{ch: make(chan os.Signal, len(interruptSignals))}
	for _, sig := range interruptSignals {
		// A signal np inherited as ignored stays ignored (nohup).
		if !signal.Ignored(sig) {
			signal.Notify(w.ch, sig)
		}
	}
	return w
}

func (w *interruptWatch) stop() { signal.Stop(w.ch) }

// interrupted returns an *interruptedError if a signal arrived so far.
func (w *interruptWatch) interrupted() error {
	select {
	case sig := <-w.ch:
		return &interruptedError{sig: sig.(syscall.Signal)}
	default:
		return nil
	}
}

// interruptedError: np was told to stop; main ends np by the same signal.
type interruptedError struct{ sig syscall.Signal }

func (e *interruptedError) Error() string { return fmt.Sprintf("interrupted by %v", e.sig) }

func isInterrupt(err error) bool {
	var ie *interruptedError
	return errors.As(err, &ie)
}
