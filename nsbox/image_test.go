package nsbox

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// record is what the init writes on the status pipe for a failure.
func record(kind, x uint32, errno unix.Errno, idx uint32) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b, kind)
	binary.LittleEndian.PutUint32(b[4:], x)
	binary.LittleEndian.PutUint32(b[8:], uint32(errno))
	binary.LittleEndian.PutUint32(b[12:], idx)
	return b
}

func testImage(t *testing.T, r *launch.Request, ops []op) *initImage {
	t.Helper()
	img, err := newImage(r, ops, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// A failed op comes out of Run whole: its step, host path, and the call
// with its arguments and flags; a fallback op (after the main list in the
// flattened plan) too.
func TestFailedOpIsRebuiltFromItsIndex(t *testing.T) {
	r := &launch.Request{NixDir: "/data/nix", Argv: []string{"true"}, Dir: "/"}
	ops := append(scratchPlan(), rootPlan([]hostEntry{{Name: "home", Kind: entryDir}}, r.NixDir)...)
	img := testImage(t, r, ops)
	flat := flatten(ops)
	for i, f := range flat {
		if f.Kind != opMount || f.Path != "/home" {
			continue
		}
		err := img.decode(r, ops, record(failOp, uint32(i), unix.EACCES, 0))
		var setupErr *launch.SetupError
		var opErr *OpError
		if !errors.As(err, &setupErr) || !errors.As(err, &opErr) || !errors.Is(err, unix.EACCES) {
			t.Fatalf("decoded %#v", err)
		}
		want := "mirroring host /home: mount /oldroot/home on /newroot/home (MS_BIND|MS_REC): permission denied"
		if err.Error() != want {
			t.Errorf("got %q, want %q", err, want)
		}
		return
	}
	t.Fatal("no bind of /home in the plan")
}

func TestFallbackOpsFollowTheMainList(t *testing.T) {
	ops := scratchPlan()
	flat := flatten(ops)
	var pivot *flatOp
	for i := range flat[:len(ops)] {
		if flat[i].Kind == opPivotRoot && len(flat[i].Fallback) > 0 {
			pivot = &flat[i]
		}
	}
	if pivot == nil || int(pivot.fallback) != len(ops) || int(pivot.fallbackEnd) != len(flat) ||
		flat[pivot.fallback].Step != "entering scratch root without pivot_root" {
		t.Fatalf("pivot's fallback is not the ops after the main list: %+v", pivot)
	}
}

// Lookup failures name the file the init tried, found from the same PATH
// candidates the init had.
func TestLookupFailuresNameTheCandidate(t *testing.T) {
	r := &launch.Request{NixDir: "/data/nix", Argv: []string{"prog"}, Env: []string{"PATH=/a::/c"}, Dir: "/"}
	if got := candidates("prog", r.Env); strings.Join(got, " ") != "/a/prog ./prog /c/prog" {
		t.Fatalf("candidates: %q", got)
	}
	img := testImage(t, r, nil)
	for _, c := range []struct {
		rec  []byte
		kind error
		want string
	}{
		{record(failLookup, lookNotFound, 0, 0), proc.ErrNotFound, `program "prog" not found on PATH`},
		{record(failLookup, lookNotExec, unix.EACCES, 2), proc.ErrNotExecutable, `running program "prog": /c/prog: permission denied`},
		{record(failLookup, lookNotExec, unix.EISDIR, 1), proc.ErrNotExecutable, `running program "prog": ./prog: is a directory`},
		{record(failLookup, lookExec, unix.ENOENT, 0), proc.ErrNotFound,
			`running program "prog": /a/prog: no such file or directory (missing interpreter or dynamic loader?)`},
	} {
		err := img.decode(r, nil, c.rec)
		if !errors.Is(err, c.kind) || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// A record that does not decode is a SetupError, never a silent success.
func TestBadRecordsAreSetupErrors(t *testing.T) {
	r := &launch.Request{NixDir: "/data/nix", Argv: []string{"true"}, Dir: "/"}
	img := testImage(t, r, scratchPlan())
	for _, b := range [][]byte{[]byte("short"), record(failOp, 999, unix.EPERM, 0), record(77, 0, 0, 0)} {
		var setupErr *launch.SetupError
		if err := img.decode(r, scratchPlan(), b); !errors.As(err, &setupErr) || setupErr.Step != "reading sandbox init status" {
			t.Errorf("%q decoded as %v", b, err)
		}
	}
}

// Strings with a NUL byte cannot reach a system call: Run says so.
func TestNULInArgumentsIsRefused(t *testing.T) {
	r := &launch.Request{NixDir: "/data/nix", Argv: []string{"echo", "a\x00b"}, Dir: "/"}
	if _, err := newImage(r, nil, [3]*os.File{}, nil); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("got %v", err)
	}
}
