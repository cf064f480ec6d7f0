package ptrace

import (
	"reflect"
	"testing"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/wire"
)

// The stub's own fields of the spec cross the pipe after the common ones
// (package launch tests those and the status pipe).
func TestSpecSurvivesThePipe(t *testing.T) {
	sent := &launch.Request{Argv: []string{"rm", "file\xe9"}, Env: []string{"A=\xff"}, Dir: "/home/\xe9",
		Probe: true, KeepFDs: []int{4}, LogLevel: 6, Options: &stubOptions{NoSeccomp: true, Notify: notifyLevel(2)}}
	var e wire.Encoder
	sent.Encode(&e)
	got, err := launch.DecodeRequest(e.Bytes(), &stubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("decoded %#v, want %#v", got, sent)
	}
}
