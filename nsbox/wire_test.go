package nsbox

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
)

// A failed mount reaches Run whole: its flags, not only its text (package
// launch tests the rest of the status pipe).
func TestSetupFailureSurvivesThePipe(t *testing.T) {
	sent := &SetupError{Step: "mirroring host", Path: "/home",
		Err: &OpError{Op: "mount", Source: "/oldroot/home", Target: "/newroot/home", Flags: unix.MS_BIND | unix.MS_REC, Errno: unix.EACCES}}
	got := initHelper.DecodeFailure(initHelper.EncodeFailure(sent))
	var setupErr *SetupError
	if !errors.As(got, &setupErr) {
		t.Fatalf("decoded %T %v, want *SetupError", got, got)
	}
	if got.Error() != sent.Error() {
		t.Errorf("message changed:\n got %s\nwant %s", got, sent)
	}
	var opErr *OpError
	if !errors.As(got, &opErr) || !reflect.DeepEqual(opErr, sent.Err) {
		t.Errorf("decoded error lost its *OpError: %#v", got)
	}
	if !errors.Is(got, unix.EACCES) {
		t.Errorf("decoded error does not match EACCES: %v", got)
	}
}

// nsbox's own field of the spec crosses the pipe after the common ones.
func TestOptionsSurviveThePipe(t *testing.T) {
	sent := &launch.Request{NixDir: "/data/n\xe9ix", Argv: []string{"rm"}, Options: &initOptions{forcePivotFallback: true}}
	var e wire.Encoder
	sent.Encode(&e)
	got, err := launch.DecodeRequest(e.Bytes(), &initOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
}
