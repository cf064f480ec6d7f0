// Package interrupt notices the signals that tell np to stop while it
// installs (SIGINT, SIGTERM, SIGHUP), so that each step of an install can
// end cleanly and np then dies by the same signal, with one line naming
// the step that was interrupted.
//
// While a step runs a helper program (nix-store --load-db, nix store sign,
// the build-sandbox probe), np catches these signals to pass them on to it
// (proc.RunHook); the helper then fails because it was killed, which must
// not be taken for the step's result: a ^C during the build-sandbox probe
// used to write `sandbox = false` for good, one during signing ended np
// with 125 "nix killed by interrupt". Steps without a helper (unpacking)
// poll At between units of work.
package interrupt

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Signals end an install: the user (or a service manager) wants np gone.
var Signals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// Watch notices interrupt signals from Start until Stop.
type Watch struct {
	ch   chan os.Signal
	mu   sync.Mutex
	step string
	// OnStep, if set, is called with each new step's name as At enters
	// it (np shows it on the terminal: on a slow file system a step can
	// take minutes with nothing else on the screen).
	OnStep func(step string)
}

// Start begins watching; signals np inherited as ignored stay ignored
// (nohup, a background job's SIGINT).
func Start() *Watch {
	w := &Watch{ch: make(chan os.Signal, len(Signals))}
	for _, sig := range Signals {
		if !signal.Ignored(sig) {
			signal.Notify(w.ch, sig)
		}
	}
	return w
}

// Stop ends watching: the signals' dispositions are np's defaults again.
func (w *Watch) Stop() { signal.Stop(w.ch) }

// Check returns an *Error if an interrupt signal arrived since watching
// began, naming the step last entered with At. A nil Watch checks
// nothing.
func (w *Watch) Check() error {
	if w == nil {
		return nil
	}
	select {
	case sig := <-w.ch:
		w.ch <- sig // later checks see it too
		w.mu.Lock()
		defer w.mu.Unlock()
		return &Error{Sig: sig.(syscall.Signal), Step: w.step}
	default:
		return nil
	}
}

// At enters the step named step ("unpacking np's Nix") and returns Check's
// verdict: a step starts only if np was not told to stop. A nil Watch
// checks nothing.
func (w *Watch) At(step string) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if w.step != step {
		w.step = step
		w.mu.Unlock()
		if w.OnStep != nil {
			w.OnStep(step)
		}
		w.pauseAt(step)
	} else {
		w.mu.Unlock()
	}
	return w.Check()
}

// Error: np was told to stop during an install. np ends by the same
// signal, as the interrupted step would have ended.
type Error struct {
	Sig  syscall.Signal
	Step string // what was interrupted, e.g. "signing np's store paths"
}

func (e *Error) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("interrupted by %v during the first run's install; nothing was recorded, the next run installs again", e.Sig)
	}
	return fmt.Sprintf("interrupted by %v while %s (the first run's install); nothing was recorded, the next run installs again", e.Sig, e.Step)
}

// Is reports whether err is an *Error.
func Is(err error) bool {
	var ie *Error
	return errors.As(err, &ie)
}

// PauseEnv names a test hook: NP_TEST_PAUSE_AT=STEP:FILE makes np, on
// entering the step whose name starts with STEP, create FILE and wait
// (at most a minute) until it is removed or an interrupt signal arrives.
// A test can then signal np at exactly that step instead of guessing with
// sleeps.
const PauseEnv = "NP_TEST_PAUSE_AT"

func (w *Watch) pauseAt(step string) {
	v := os.Getenv(PauseEnv)
	prefix, file, ok := strings.Cut(v, ":")
	if !ok || prefix == "" || !strings.HasPrefix(step, prefix) {
		return
	}
	if err := os.WriteFile(file, []byte(step+"\n"), 0o644); err != nil {
		return
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(file); err != nil || w.Check() != nil {
			return
		}
	}
}
