package interrupt

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// At names the step a signal interrupted; the pause hook holds np at a
// step until the signal arrives, so a test can signal it exactly there.
func TestSignalAtAPausedStepIsNamed(t *testing.T) {
	// A signal the caller ignores is not watched (nohup stays nohup), so
	// the test sends one that the run it is in does not ignore.
	var sig syscall.Signal
	for _, s := range Signals {
		if !signal.Ignored(s) {
			sig = s.(syscall.Signal)
			break
		}
	}
	if sig == 0 {
		t.Fatal("SIGINT, SIGTERM and SIGHUP are all ignored in this run: nothing can interrupt a step; run the test without ignoring them")
	}
	pause := filepath.Join(t.TempDir(), "paused")
	t.Setenv(PauseEnv, "signing:"+pause)
	w := Start()
	defer w.Stop()
	if err := w.At("unpacking Nix"); err != nil {
		t.Fatalf("no signal yet: %v", err)
	}
	go func() {
		for {
			if _, err := os.Stat(pause); err == nil {
				syscall.Kill(os.Getpid(), sig)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	err := w.At("signing np's store paths")
	ie, ok := err.(*Error)
	if !ok || ie.Sig != sig || !strings.Contains(err.Error(), sig.String()+" while signing np's store paths") {
		t.Fatalf("At after %v: %v", sig, err)
	}
	if !Is(w.Check()) {
		t.Error("a later Check forgot the signal")
	}
	var none *Watch
	if none.At("x") != nil || none.Check() != nil {
		t.Error("a nil Watch reported a signal")
	}
}

// OnStep hears each step once, as it begins: unpacking calls At between
// every file, and np's terminal line must not be redrawn for each.
func TestOnStepHearsEachNewStepOnce(t *testing.T) {
	w := Start()
	defer w.Stop()
	var heard []string
	w.OnStep = func(step string) { heard = append(heard, step) }
	for _, step := range []string{"checking", "unpacking Nix", "unpacking Nix", "unpacking Nix", "signing"} {
		if err := w.At(step); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(heard, ","); got != "checking,unpacking Nix,signing" {
		t.Fatalf("OnStep heard %q", got)
	}
}
