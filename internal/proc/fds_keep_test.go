package proc

import (
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// openInheritable opens /dev/null without close-on-exec, like a shell's
// redirection would.
func openInheritable(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func cloexec(t *testing.T, fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.FD_CLOEXEC != 0
}

func TestCloseExtraFDsKeepsOnlyThoseAsked(t *testing.T) {
	a, b, c := openInheritable(t), openInheritable(t), openInheritable(t)
	if got := InheritedFDs(); !slices.Contains(got, a) || !slices.Contains(got, b) || !slices.Contains(got, c) {
		t.Fatalf("InheritedFDs() = %v, want it to hold %d %d %d", got, a, b, c)
	}
	for _, scan := range []bool{false, true} {
		for _, fd := range []int{a, b, c} {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
		}
		var err error
		if scan {
			err = cloexecByScan([]int{b})
		} else {
			err = CloseExtraFDs(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !cloexec(t, a) || cloexec(t, b) || !cloexec(t, c) {
			t.Fatalf("scan=%v: cloexec a=%v b=%v c=%v; want only b kept", scan, cloexec(t, a), cloexec(t, b), cloexec(t, c))
		}
		if slices.Contains(InheritedFDs(), a) {
			t.Fatalf("InheritedFDs still lists a close-on-exec fd")
		}
	}
}
