package ptrace

import (
	"testing"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
	"github.com/np-portable/np/ptrace/systable"
)

// The stub's own fields of the spec cross the pipe after the common ones
// (package launch tests those and the status pipe), every combination.
func TestStubOptionsSurviveThePipe(t *testing.T) {
	for level := systable.NotifyNone; level <= systable.NotifyListings; level++ {
		for _, noSeccomp := range []bool{false, true} {
			sent := stubOptions{NoSeccomp: noSeccomp, Notify: level}
			var e wire.Encoder
			(&launch.Request{Argv: []string{"rm", "file\xe9"}, KeepFDs: []int{4}, Options: &sent}).Encode(&e)
			var got stubOptions
			r, err := launch.DecodeRequest(e.Bytes(), &got)
			if err != nil || got != sent || r.Argv[1] != "file\xe9" || r.KeepFDs[0] != 4 {
				t.Errorf("sent %+v, decoded %+v, %+v (%v)", sent, got, r, err)
			}
		}
	}
}
