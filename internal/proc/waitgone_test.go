package proc

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// WaitGone sees the pipe's reader go, whether the write end can be parked
// on in the netpoller (non-blocking, as the ns init makes its status
// pipe) or only watched by a goroutine blocked in poll.
func TestWaitGoneSeesTheReaderClose(t *testing.T) {
	for _, nonblocking := range []bool{true, false} {
		name := "blocking"
		if nonblocking {
			name = "non-blocking"
		}
		t.Run(name, func(t *testing.T) {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			if nonblocking {
				if err := unix.SetNonblock(p[1], true); err != nil {
					t.Fatal(err)
				}
			}
			w := os.NewFile(uintptr(p[1]), "write end")
			defer w.Close()
			gone := WaitGone(w)
			select {
			case <-gone:
				t.Fatal("gone while the reader is still open")
			case <-time.After(100 * time.Millisecond):
			}
			unix.Close(p[0])
			select {
			case <-gone:
			case <-time.After(10 * time.Second):
				t.Fatal("the reader closed 10 s ago and WaitGone has not noticed")
			}
		})
	}
}
