package ptrace

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/np-portable/np/internal/launch"
)

// TestGoProgramsUnderTheTracer: goroutine stacks are small; the tracer
// must not write below their stack pointer. Many goroutines at varying
// stack depths read /nix paths while the GC runs.
func TestGoProgramsUnderTheTracer(t *testing.T) {
	f := getFixture(t)
	self, _ := os.Executable()
	modes(t, func(t *testing.T, ns bool) {
		var out, errOut stringsBuilder
		ws, err := Run(launch.Spec{NixDir: f.nix, Argv: []string{self}, Env: append(testEnv(), helperEnv+"=go-stress"),
			Stdout: &out, Stderr: &errOut}, Options{NoSeccomp: ns, NoNotify: noNotifyForTests})
		if err != nil || ws != 0 || out.String() != "ok 4000\n" {
			t.Errorf("Go program under the tracer: %v %v %q %q", ws, err, out.String(), errOut.String())
		}
	})
}

type stringsBuilder struct {
	mu sync.Mutex
	b  []byte
}

func (s *stringsBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *stringsBuilder) String() string { return string(s.b) }

func goStress() int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	okCount := 0
	long := "/nix/dir/../dir/../dir/../dir/../dir/../dir/../dir/../dir/../dir/../dir/../dir/../hello"
	for g := 0; g < 40; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if deep(g%7+i%5, func() bool {
					f, err := os.Open("/nix/link")
					var b []byte
					if err == nil {
						b = make([]byte, 16)
						n, rerr := f.Read(b)
						b = b[:n]
						if n != 6 {
							fi, _ := f.Stat()
							l, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
							fmt.Fprintf(os.Stderr, "fd %d read %d %v stat %v -> %s\n", f.Fd(), n, rerr, fi, l)
						}
						f.Close()
					}
					_, err2 := os.Stat(long)
					if err != nil || string(b) != "hello\n" || err2 != nil {
						fmt.Fprintf(os.Stderr, "read %q %v, stat %v\n", b, err, err2)
						return false
					}
					return true
				}) {
					mu.Lock()
					okCount++
					mu.Unlock()
				}
				if i%25 == 0 {
					runtime.GC()
				}
			}
		}(g)
	}
	wg.Wait()
	fmt.Printf("ok %d\n", okCount)
	return 0
}

//go:noinline
func deep(n int, f func() bool) bool {
	var pad [64]byte
	if n == 0 {
		return f()
	}
	pad[n%64] = byte(n)
	return deep(n-1, f) && pad[n%64] == byte(n)
}
