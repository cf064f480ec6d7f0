package ptrace

import (
	"runtime"
	"time"
)

// freshSlice keeps a goroutine that is locked to its thread and spends
// its life in blocking system calls (the tracer's wait4, the notification
// server's poll) out of the Go scheduler's way. Such a goroutine never
// reschedules, so after 10 ms the runtime's monitor deems it to have run
// too long and, every time it finds it in a system call (each 20 µs),
// takes its P away and wakes another thread to run it: several futex
// wake-ups and context switches per ptrace stop or notification, which
// on a VM cost more than the stop itself (measured: a traced chdir loop
// 2.5 futex calls a stop). Yielding every few milliseconds restarts the
// 10 ms count; the yield itself costs a few µs.
type freshSlice struct{ last time.Time }

// Every 5 ms: half the runtime's forcePreemptNS.
const sliceYield = 5 * time.Millisecond

func (f *freshSlice) tick() {
	if now := time.Now(); now.Sub(f.last) >= sliceYield {
		f.last = now
		runtime.Gosched()
	}
}
