package ptrace

import "golang.org/x/sys/unix"

// areaFor returns where th's strings go. ok is false when the scratch
// area is being mapped first: the tracer has turned the current call into
// an mmap, and the call runs again once it is done (see exitScratch).
func (t *tracer) areaFor(th *thread) (a alloc, ok bool, err error) {
	sc := th.proc.scratch
	if sc.addr == 0 && !sc.failed {
		return alloc{}, false, t.injectMmap(th)
	}
	if sc.addr != 0 && th.slot < 0 {
		switch {
		case len(sc.free) > 0:
			th.slot, sc.free = sc.free[len(sc.free)-1], sc.free[:len(sc.free)-1]
		case sc.next < scratchSlots:
			th.slot = sc.next
			sc.next++
		}
	}
	if sc.addr == 0 || th.slot < 0 {
		return stackArea(th.tid, stackPointer(&th.regs)), true, nil
	}
	low := sc.addr + uint64(th.slot)*scratchSlotSize
	return alloc{tid: th.tid, next: low + scratchSlotSize, low: low}, true, nil
}

// chunkFor is areaFor for one rewrite: the thread's next chunk of its
// slot. scratch says whether it is one (not the stack).
func (t *tracer) chunkFor(th *thread) (a alloc, ok, scratch bool, err error) {
	a, ok, err = t.areaFor(th)
	if !ok || a.low == 0 {
		return a, ok, false, err
	}
	th.chunk = (th.chunk + 1) % scratchChunks
	a.low += uint64(th.chunk) * scratchChunkSize
	a.next = a.low + scratchChunkSize
	return a, true, true, nil
}

// injectMmap turns th's current call into mmap of the scratch area.
func (t *tracer) injectMmap(th *thread) error {
	th.saved = th.regs
	r := &th.regs
	setNr(r, unix.SYS_MMAP)
	setArg(r, 0, 0)
	setArg(r, 1, scratchSize)
	setArg(r, 2, unix.PROT_READ|unix.PROT_WRITE)
	setArg(r, 3, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	setArg(r, 4, ^uint64(0)) // fd -1
	setArg(r, 5, 0)
	th.exit = exitScratch
	return t.ok(th, setRegs(th.tid, r))
}

// exitScratch records the mmap's result and makes the thread run its
// original call again: registers as they were, the instruction pointer
// back on the syscall instruction.
func (t *tracer) exitScratch(th *thread) error {
	th.proc.scratch.record(result(&th.regs))
	th.regs = th.saved
	rewindSyscall(&th.regs)
	return t.ok(th, setRegs(th.tid, &th.regs))
}

// forkReturned maps the scratch area in a parent at the exit stop of its
// fork: the registers are saved, the syscall instruction runs again as
// mmap, and exitInjected puts them back. Between this stop and the mmap
// the thread passes through user mode, where a pending signal (a child's
// SIGCHLD, often) would run its handler first, with its own calls: every
// signal is blocked meanwhile, so the next two stops are the mmap's, and
// exitInjected unblocks them. Without PTRACE_SETSIGMASK (Linux < 3.11) no
// area is mapped here: the children map their own.
func (t *tracer) forkReturned(th *thread) error {
	if sc := th.proc.scratch; sc.addr != 0 || sc.failed {
		return nil // a vfork child mapped it meanwhile
	}
	mask, err := sigmask(th.tid)
	if err != nil {
		return nil
	}
	if err := setSigmask(th.tid, ^uint64(0)); err != nil {
		return nil
	}
	th.savedMask = mask
	th.saved = th.regs
	r := &th.regs
	callAgain(r, unix.SYS_MMAP, 0, scratchSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	th.exit = exitInjectEnter
	return t.ok(th, setRegs(th.tid, r))
}

// exitInjected records the injected mmap's result and restores the
// registers of the fork's return.
func (t *tracer) exitInjected(th *thread) error {
	if sysNr(&th.regs) == unix.SYS_MMAP {
		th.proc.scratch.record(result(&th.regs))
	}
	th.regs = th.saved
	if err := setRegs(th.tid, &th.regs); err != nil {
		return t.ok(th, err)
	}
	return t.ok(th, setSigmask(th.tid, th.savedMask))
}

// releaseSlot gives an ended thread's slot back.
func (th *thread) releaseSlot() {
	if th.slot >= 0 && th.proc != nil && th.proc.scratch != nil {
		th.proc.scratch.free = append(th.proc.scratch.free, th.slot)
		th.slot = -1
	}
}
