package ptrace

import (
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// plumbing owns the pipes between Run and the stub, and the copies
// for stdio that are not plain files.
type plumbing struct {
	childEnds []*os.File // the child's ends: closed in the parent once it started
	ours      []*os.File // closed when Run returns
	stdinCopy func()     // started only once the program really runs
	copies    sync.WaitGroup
	mu        sync.Mutex
	copyErr   error
}

// dupAll duplicates fds (close-on-exec) for handing to the child: the
// caller's own descriptors are never wrapped in an *os.File, whose finalizer
// would close them once Run returns.
func (p *plumbing) dupAll(fds []int) ([]*os.File, error) {
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return nil, fmt.Errorf("duplicating fd %d: %w", fd, err)
		}
		files[i] = os.NewFile(uintptr(dup), fmt.Sprintf("fd %d", fd))
		p.ours = append(p.ours, files[i])
	}
	return files, nil
}

// pipe makes a pipe whose read end (childReads) or write end goes to the child.
func (p *plumbing) pipe(childReads bool) (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	if childReads {
		p.childEnds, p.ours = append(p.childEnds, r), append(p.ours, w)
	} else {
		p.childEnds, p.ours = append(p.childEnds, w), append(p.ours, r)
	}
	return r, w, nil
}

// stdio returns the files that become the child's fds 0-2.
func (p *plumbing) stdio(spec Spec) (stdin, stdout, stderr *os.File, err error) {
	switch in := spec.Stdin.(type) {
	case nil:
		stdin = os.Stdin
	case *os.File:
		stdin = in
	default:
		r, w, err := p.pipe(true)
		if err != nil {
			return nil, nil, nil, err
		}
		stdin = r
		// Not before the program runs: on a set-up failure the caller falls
		// back to another runtime, which must still find all of stdin.
		// Nobody waits for this copy: it may block reading a terminal
		// forever, and the program does not need it to end.
		p.stdinCopy = func() {
			go func() {
				_, _ = io.Copy(w, in)
				_ = w.Close()
			}()
		}
	}
	if stdout, err = p.output(spec.Stdout, os.Stdout); err != nil {
		return nil, nil, nil, err
	}
	if sameWriter(spec.Stdout, spec.Stderr) {
		return stdin, stdout, stdout, nil // one pipe keeps their order
	}
	if stderr, err = p.output(spec.Stderr, os.Stderr); err != nil {
		return nil, nil, nil, err
	}
	return stdin, stdout, stderr, nil
}

// output returns the child's file for an output stream, copying from a pipe
// when out is not a file.
func (p *plumbing) output(out io.Writer, def *os.File) (*os.File, error) {
	switch o := out.(type) {
	case nil:
		return def, nil
	case *os.File:
		return o, nil
	}
	r, w, err := p.pipe(false)
	if err != nil {
		return nil, err
	}
	p.copies.Add(1)
	go func() {
		defer p.copies.Done()
		if _, err := io.Copy(out, r); err != nil {
			p.mu.Lock()
			if p.copyErr == nil {
				p.copyErr = err
			}
			p.mu.Unlock()
		}
	}()
	return w, nil
}

// sameWriter reports a == b without panicking on uncomparable types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a != nil && a == b
}

func (p *plumbing) closeChildEnds() {
	for _, f := range p.childEnds {
		_ = f.Close()
	}
	p.childEnds = nil
}

func (p *plumbing) startStdin() {
	if p.stdinCopy != nil {
		p.stdinCopy()
	}
}

// wait waits for the output copies, which end once every write end is
// closed (the program and whatever it left running have exited).
func (p *plumbing) wait() error {
	p.copies.Wait()
	if p.copyErr != nil {
		return fmt.Errorf("copying program output: %w", p.copyErr)
	}
	return nil
}

func (p *plumbing) closeAll() {
	p.closeChildEnds()
	for _, f := range p.ours {
		_ = f.Close()
	}
}

// writeSpec sends spec to the stub and closes w, so the stub sees EOF.
func writeSpec(w *os.File, spec *wireSpec) error {
	err := gob.NewEncoder(w).Encode(spec)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}
