// Package proc holds the process plumbing every np runtime shares: finding a
// program like execvp does, running a child while forwarding signals to it,
// turning its wait status into np's own exit, and keeping stray file
// descriptors away from the final program.
//
// Only main exits: Reraise is the one function here that may end the
// process, and main calls it as its last act.
package proc
