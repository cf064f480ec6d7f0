package proc

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Plumbing owns the pipes between a runtime's Run and the child it forks
// (the ns init, the traced process), and the copies for stdio that
// are not plain files. Both runtimes hand their program the caller's
// stdio and fds the same way, so they share it.
type Plumbing struct {
	childEnds []*os.File // the child's ends: closed in the parent once it started
	ours      []*os.File // closed when Run returns
	stdinCopy func()     // started only once the program really runs
	copies    sync.WaitGroup
	mu        sync.Mutex
	copyErr   error
}

// DupAll duplicates fds (close-on-exec) for handing to the child: the
// caller's own descriptors are never wrapped in an *os.File, whose finalizer
// would close them once Run returns.
func (p *Plumbing) DupAll(fds []int) ([]*os.File, error) {
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

// Pipe makes a pipe whose read end (childReads) or write end goes to the child.
func (p *Plumbing) Pipe(childReads bool) (r, w *os.File, err error) {
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

// Stdio returns the files that become the child's fds 0-2: nil means
// np's own, an *os.File is passed as is, anything else is copied through a
// pipe (stdin only once StartStdin says the program runs).
func (p *Plumbing) Stdio(in io.Reader, out, errOut io.Writer) (stdin, stdout, stderr *os.File, err error) {
	switch in := in.(type) {
	case nil:
		stdin = os.Stdin
	case *os.File:
		stdin = in
	default:
		r, w, err := p.Pipe(true)
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
	if stdout, err = p.output(out, os.Stdout); err != nil {
		return nil, nil, nil, err
	}
	if sameWriter(out, errOut) {
		return stdin, stdout, stdout, nil // one pipe keeps their order
	}
	if stderr, err = p.output(errOut, os.Stderr); err != nil {
		return nil, nil, nil, err
	}
	return stdin, stdout, stderr, nil
}

// output returns the child's file for an output stream, copying from a pipe
// when out is not a file.
func (p *Plumbing) output(out io.Writer, def *os.File) (*os.File, error) {
	switch o := out.(type) {
	case nil:
		return def, nil
	case *os.File:
		return o, nil
	}
	r, w, err := p.Pipe(false)
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

// AddChildEnd records f, made by the caller, as a child's end.
func (p *Plumbing) AddChildEnd(f *os.File) { p.childEnds = append(p.childEnds, f) }

// CloseChildEnds closes the parent's copies of the child's ends, once
// the child has them: only then can EOF come.
func (p *Plumbing) CloseChildEnds() {
	for _, f := range p.childEnds {
		_ = f.Close()
	}
	p.childEnds = nil
}

// StartStdin starts feeding a copied stdin: the program runs.
func (p *Plumbing) StartStdin() {
	if p.stdinCopy != nil {
		p.stdinCopy()
	}
}

// Wait waits for the output copies, which end once every write end is
// closed (the program and whatever it left running have exited).
func (p *Plumbing) Wait() error {
	p.copies.Wait()
	if p.copyErr != nil {
		return fmt.Errorf("copying program output: %w", p.copyErr)
	}
	return nil
}

// CloseAll closes every pipe end np made.
func (p *Plumbing) CloseAll() {
	p.CloseChildEnds()
	for _, f := range p.ours {
		_ = f.Close()
	}
}
