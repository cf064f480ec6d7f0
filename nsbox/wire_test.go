package nsbox

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
	wirepkg "github.com/np-portable/np/internal/wire"
)

func TestSetupFailureSurvivesThePipe(t *testing.T) {
	sent := &SetupError{Step: "mirroring host", Path: "/home",
		Err: &OpError{Op: "mount", Source: "/oldroot/home", Target: "/newroot/home", Flags: unix.MS_BIND | unix.MS_REC, Errno: unix.EACCES}}
	got := decodeFailure(encodeFailure(sent))
	var setupErr *SetupError
	if !errors.As(got, &setupErr) {
		t.Fatalf("decoded %T %v, want *SetupError", got, got)
	}
	if got.Error() != sent.Error() {
		t.Errorf("message changed:\n got %s\nwant %s", got, sent)
	}
	var opErr *OpError
	if !errors.As(got, &opErr) || opErr.Flags != unix.MS_BIND|unix.MS_REC {
		t.Errorf("decoded error lost its *OpError: %#v", got)
	}
	if !errors.Is(got, unix.EACCES) {
		t.Errorf("decoded error does not match EACCES: %v", got)
	}
}

func TestPlainErrorsKeepTheirErrnoThroughThePipe(t *testing.T) {
	sent := &SetupError{Step: "dropping capabilities", Err: &wrapped{unix.EPERM}}
	got := decodeFailure(encodeFailure(sent))
	if !errors.Is(got, unix.EPERM) || got.Error() != sent.Error() {
		t.Errorf("got %v (EPERM: %v), want %v", got, errors.Is(got, unix.EPERM), sent)
	}
}

type wrapped struct{ errno unix.Errno }

func (w *wrapped) Error() string { return "capset: " + w.errno.Error() }
func (w *wrapped) Unwrap() error { return w.errno }

func TestLookupFailuresSurviveThePipe(t *testing.T) {
	for _, kind := range []error{proc.ErrNotFound, proc.ErrNotExecutable} {
		sent := &proc.LookupError{Name: "foo", File: "/usr/bin/foo", Reason: "permission denied", Err: kind}
		got := decodeFailure(encodeFailure(sent))
		if !errors.Is(got, kind) {
			t.Errorf("%v: decoded %v does not match %v", kind, got, kind)
		}
		var setupErr *SetupError
		if errors.As(got, &setupErr) {
			t.Errorf("lookup failure came back as a set-up failure: %v", got)
		}
		if got.Error() != sent.Error() {
			t.Errorf("message changed: %q, want %q", got, sent)
		}
	}
}

func TestGarbageStatusIsASetupError(t *testing.T) {
	got := decodeFailure([]byte("not json"))
	var setupErr *SetupError
	if !errors.As(got, &setupErr) || !strings.Contains(got.Error(), "not json") {
		t.Errorf("got %v", got)
	}
}

// The spec crosses the pipe byte for byte: argv, environment and paths
// need not be UTF-8.
func TestSpecSurvivesThePipe(t *testing.T) {
	sent := &wireSpec{NixDir: "/data/n\xe9ix", Argv: []string{"rm", "file\xe9"}, Env: []string{"A=\xff", "B="},
		Dir: "/home/\xe9", Probe: true, KeepFDs: []int{3, 7}, LogLevel: 5, ForcePivotFallback: true}
	var e wirepkg.Encoder
	sent.encode(&e)
	got, err := decodeSpec(e.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
	if _, err := decodeSpec(e.Bytes()[:len(e.Bytes())-2]); err == nil {
		t.Error("a truncated spec decoded without an error")
	}
}
