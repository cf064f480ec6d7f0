package launch

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/wire"
)

// testHelper stands for a runtime's helper.
var testHelper = &Helper{Name: "test helper", Start: "running test helper"}

func roundTrip(err error) error { return testHelper.DecodeFailure(testHelper.EncodeFailure(err)) }

func TestSetupFailureSurvivesThePipe(t *testing.T) {
	sent := &SetupError{Step: "mirroring host", Path: "/home", Err: &wrapped{unix.EACCES}}
	got := roundTrip(sent)
	var setupErr *SetupError
	if !errors.As(got, &setupErr) || setupErr.Path != sent.Path {
		t.Fatalf("decoded %T %v, want *SetupError", got, got)
	}
	if got.Error() != sent.Error() {
		t.Errorf("message changed:\n got %s\nwant %s", got, sent)
	}
	if !errors.Is(got, unix.EACCES) {
		t.Errorf("decoded error does not match EACCES: %v", got)
	}
}

func TestPlainErrorsKeepTheirErrnoThroughThePipe(t *testing.T) {
	sent := &SetupError{Step: "dropping capabilities", Err: &wrapped{unix.EPERM}}
	got := roundTrip(sent)
	if !errors.Is(got, unix.EPERM) || got.Error() != sent.Error() {
		t.Errorf("got %v (EPERM: %v), want %v", got, errors.Is(got, unix.EPERM), sent)
	}
}

type wrapped struct{ errno unix.Errno }

func (w *wrapped) Error() string { return "capset: " + w.errno.Error() }
func (w *wrapped) Unwrap() error { return w.errno }

// An error that names no step is the helper's Start step.
func TestStepLessErrorsAreTheHelpersStart(t *testing.T) {
	got := roundTrip(&wrapped{unix.EPERM})
	var setupErr *SetupError
	if !errors.As(got, &setupErr) || setupErr.Step != testHelper.Start || !errors.Is(got, unix.EPERM) {
		t.Errorf("got %#v, want a SetupError of step %q matching EPERM", got, testHelper.Start)
	}
}

func TestLookupFailuresSurviveThePipe(t *testing.T) {
	for _, kind := range []error{proc.ErrNotFound, proc.ErrNotExecutable} {
		sent := &proc.LookupError{Name: "foo", File: "/usr/bin/foo", Reason: "permission denied", Err: kind}
		got := roundTrip(sent)
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

func TestWorkDirFailureSurvivesThePipe(t *testing.T) {
	sent := &WorkDirError{Dir: "/nix/\xe9", Reason: "np's /nix hides the host's /nix there"}
	var got *WorkDirError
	if !errors.As(roundTrip(sent), &got) || *got != *sent {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
}

func TestGarbageStatusIsASetupError(t *testing.T) {
	got := testHelper.DecodeFailure([]byte("not json"))
	var setupErr *SetupError
	if !errors.As(got, &setupErr) || setupErr.Step != testHelper.statusStep() || !strings.Contains(got.Error(), "not json") {
		t.Errorf("got %v", got)
	}
}

// A failure must never read as the exec marker, and must come back whole,
// bytes that are not UTF-8 included.
func TestFailureEncodingIsByteExactAndNeverTheMarker(t *testing.T) {
	for _, err := range []error{
		&SetupError{Step: "seizing", Err: errors.New("x\xe9")},
		&proc.LookupError{Name: "prog\xff", File: "/p\xe9", Reason: "r", Err: proc.ErrNotFound},
		&WorkDirError{Dir: "/\xe9", Reason: "r"},
		errors.New("plain"),
	} {
		b := testHelper.EncodeFailure(err)
		if len(b) == 0 || b[0] == Marker {
			t.Fatalf("encoding of %v starts with the exec marker", err)
		}
		if got := testHelper.DecodeFailure(b); got.Error() != err.Error() && !errors.As(got, new(*SetupError)) {
			t.Fatalf("decoded %q, want %q", got, err)
		}
	}
	var le *proc.LookupError
	if !errors.As(roundTrip(&proc.LookupError{Name: "n\xe9", Err: proc.ErrNotExecutable}), &le) || le.Name != "n\xe9" || !errors.Is(le, proc.ErrNotExecutable) {
		t.Fatalf("lookup error did not survive: %#v", le)
	}
}

// testOptions stand for a runtime's own fields of the spec.
type testOptions struct {
	Flag  bool
	Level uint64
}

func (o *testOptions) EncodeWire(e *wire.Encoder) { e.Bool(o.Flag); e.Uint(o.Level) }
func (o *testOptions) DecodeWire(d *wire.Decoder) { o.Flag, o.Level = d.Bool(), d.Uint() }

// The spec crosses the pipe byte for byte: argv, environment and paths
// need not be UTF-8.
func TestSpecSurvivesThePipe(t *testing.T) {
	sent := &Request{NixDir: "/data/n\xe9ix", Argv: []string{"rm", "file\xe9"}, Env: []string{"A=\xff", "B="},
		Dir: "/home/\xe9", Probe: true, KeepFDs: []int{3, 7}, LogLevel: 5, Options: &testOptions{Flag: true, Level: 2}}
	var e wire.Encoder
	sent.Encode(&e)
	got, err := DecodeRequest(e.Bytes(), &testOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
	if _, err := DecodeRequest(e.Bytes()[:len(e.Bytes())-2], &testOptions{}); err == nil {
		t.Error("a truncated spec decoded without an error")
	}
}
