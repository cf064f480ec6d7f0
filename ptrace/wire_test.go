package ptrace

import (
	"errors"
	"reflect"
	"testing"

	"github.com/np-portable/np/internal/proc"
)

// A failure must never read as the exec marker, and must come back whole,
// bytes that are not UTF-8 included.
func TestFailureEncodingIsByteExactAndNeverTheMarker(t *testing.T) {
	for _, err := range []error{
		&SetupError{Step: "seizing", Err: errors.New("x\xe9")},
		&proc.LookupError{Name: "prog\xff", File: "/p\xe9", Reason: "r", Err: proc.ErrNotFound},
		errors.New("plain"),
	} {
		b := encodeFailure(err)
		if len(b) == 0 || b[0] == execMarker {
			t.Fatalf("encoding of %v starts with the exec marker", err)
		}
		if got := decodeFailure(b); got.Error() != err.Error() && !errors.As(got, new(*SetupError)) {
			t.Fatalf("decoded %q, want %q", got, err)
		}
	}
	var le *proc.LookupError
	if !errors.As(decodeFailure(encodeFailure(&proc.LookupError{Name: "n\xe9", Err: proc.ErrNotExecutable})), &le) || le.Name != "n\xe9" || !errors.Is(le, proc.ErrNotExecutable) {
		t.Fatalf("lookup error did not survive: %#v", le)
	}
}

// The stub's spec crosses the pipe byte for byte.
func TestSpecSurvivesThePipe(t *testing.T) {
	sent := &wireSpec{Argv: []string{"rm", "file\xe9"}, Env: []string{"A=\xff"}, Dir: "/home/\xe9", NoSeccomp: true,
		Notify: notifyLevel(2), Probe: true, KeepFDs: []int{4}, LogLevel: 6}
	got, err := decodeSpec(sent.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
}
