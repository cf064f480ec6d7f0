package launch

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/internal/proc"
)

var errTestDied = errors.New("test child died before exec")

var testHelper = &Helper{Name: "test child", Start: "running test child", Died: errTestDied}

// prepared is a Launch readied for a program, with the status pipe's write
// end (what the forked child would hold) returned apart: the parent's copy
// is closed, as a runtime does once its child exists.
func prepared(t *testing.T) (*Launch, *os.File) {
	t.Helper()
	l := &Launch{}
	t.Cleanup(l.CloseAll)
	if err := l.Prepare(testHelper, &Spec{NixDir: t.TempDir(), Argv: []string{"true"}}, false); err != nil {
		t.Fatal(err)
	}
	_, extra := l.ChildFiles()
	status := extra[len(extra)-1]
	fd, err := unix.FcntlInt(status.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	w := os.NewFile(uintptr(fd), "status pipe (child's end)")
	t.Cleanup(func() { w.Close() })
	l.CloseChildEnds()
	return l, w
}

// The ns init writes the marker and keeps the pipe open while the program
// runs: ReadStatus must return at the marker, not wait for EOF.
func TestReadStatusReturnsAtTheMarkerWhileThePipeStaysOpen(t *testing.T) {
	l, w := prepared(t)
	if _, err := w.Write([]byte{Marker}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.ReadStatus() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadStatus still waits after the marker (the child keeps the pipe open)")
	}
	ws := proc.ExitStatus(3)
	if got, err := l.Result(ws); err != nil || got != ws {
		t.Errorf("Result = %v, %v; want the program's status %v and no error", got, err, ws)
	}
}

// A failure record is read to EOF and handed whole to the runtime's Decode.
func TestFailureRecordReachesDecodeWhole(t *testing.T) {
	l, w := prepared(t)
	record := []byte("\x02\xe9record")
	var got []byte
	want := &WorkDirError{Dir: "/d", Reason: "r"}
	l.Decode = func(b []byte) error { got = b; return want }
	if _, err := w.Write(record); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := l.ReadStatus(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Result(proc.ExitStatus(1)); err != want {
		t.Errorf("Result error = %v, want Decode's %v", err, want)
	}
	if string(got) != string(record) {
		t.Errorf("Decode got %q, want %q", got, record)
	}
}

// A child that closes the pipe without a word: killed by a signal, np ends
// the same way (no error, no fallback); otherwise a SetupError of the
// helper's Start step wrapping Died and naming the status.
func TestSilentDeath(t *testing.T) {
	for _, tc := range []struct {
		name string
		ws   syscall.WaitStatus
	}{{"signal", syscall.WaitStatus(unix.SIGKILL)}, {"exit", proc.ExitStatus(125)}} {
		t.Run(tc.name, func(t *testing.T) {
			l, w := prepared(t)
			w.Close()
			if err := l.ReadStatus(); err != nil {
				t.Fatal(err)
			}
			ws, err := l.Result(tc.ws)
			if tc.ws.Signaled() {
				if err != nil || ws != tc.ws {
					t.Errorf("Result = %v, %v; want %v and no error", ws, err, tc.ws)
				}
				return
			}
			var se *SetupError
			if !errors.As(err, &se) || se.Step != testHelper.Start || !errors.Is(err, errTestDied) || !strings.Contains(err.Error(), "125") {
				t.Errorf("Result error = %v, want a SetupError %q wrapping %v with the exit status", err, testHelper.Start, errTestDied)
			}
		})
	}
}

// The fds the caller passed keep their numbers in the child; the status
// pipe follows them.
func TestChildFilesKeepPassedNumbers(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := 9
	if err := unix.Dup2(int(r.Fd()), fd); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var l Launch
	defer l.CloseAll()
	if err := l.Prepare(testHelper, &Spec{NixDir: t.TempDir(), Argv: []string{"true"}, PassFDs: []int{fd}}, false); err != nil {
		t.Fatal(err)
	}
	_, extra := l.ChildFiles()
	if len(extra) != fd-3+2 {
		t.Fatalf("%d extra files, want %d (gaps, fd %d, the status pipe)", len(extra), fd-3+2, fd)
	}
	for i := 0; i < fd-3; i++ {
		if extra[i] != nil {
			t.Errorf("fd %d filled, want a gap", i+3)
		}
	}
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Fstat(int(extra[fd-3].Fd()), &b) != nil || a.Ino != b.Ino {
		t.Errorf("fd %d in the child is not the caller's fd %d", fd, fd)
	}
}

func TestPrepareRefusesAMissingNixDir(t *testing.T) {
	var l Launch
	defer l.CloseAll()
	err := l.Prepare(testHelper, &Spec{NixDir: "/nonexistent/nix", Argv: []string{"true"}}, false)
	var se *SetupError
	if !errors.As(err, &se) || se.Path != "/nonexistent/nix" || !errors.Is(err, unix.ENOENT) {
		t.Errorf("Prepare = %v, want a SetupError naming the directory (ENOENT)", err)
	}
}
