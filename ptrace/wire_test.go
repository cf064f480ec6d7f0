package ptrace

import (
	"errors"
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
