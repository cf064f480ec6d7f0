package nsbox

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
)

// A failed mount reaches Run whole, flags included (package launch tests
// the rest of the status pipe).
func TestFailedMountSurvivesThePipe(t *testing.T) {
	sent := &OpError{Op: "mount", Source: "/oldroot/home", Target: "/newroot/home", Flags: unix.MS_BIND | unix.MS_REC, Errno: unix.EACCES}
	setupErr := &launch.SetupError{Step: "mirroring host", Path: "/home", Err: sent}
	got := initHelper.DecodeFailure(initHelper.EncodeFailure(setupErr))
	var opErr *OpError
	if !errors.As(got, &opErr) || !reflect.DeepEqual(opErr, sent) || !errors.Is(got, unix.EACCES) || got.Error() != setupErr.Error() {
		t.Errorf("decoded %#v (%v), want %#v", got, got, setupErr)
	}
}

// The forced initramfs path reaches the init.
func TestForcedFallbackSurvivesThePipe(t *testing.T) {
	for _, force := range []bool{false, true} {
		var e wire.Encoder
		(&launch.Request{Argv: []string{"true"}, Options: &initOptions{forcePivotFallback: force}}).Encode(&e)
		var got initOptions
		if _, err := launch.DecodeRequest(e.Bytes(), &got); err != nil || got.forcePivotFallback != force {
			t.Errorf("forcePivotFallback %v came back as %v (%v)", force, got.forcePivotFallback, err)
		}
	}
}
