package bundle

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/app/install"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// bundleHelpFlag is the one argument a bundle keeps for itself: every other
// argument is the program's.
const bundleHelpFlag = "--np-help"

// Run is main's job when this executable is a bundle: run its program
// with args[1:] exactly as np run would, after installing its closure into
// the data dir on the first run. It closes p. fds are the descriptors the
// program is to get; version is np's, for --np-help.
func Run(c *config.Config, p *extract.Payload, args []string, fds []int, version string) (syscall.WaitStatus, error) {
	if len(args) > 1 && args[1] == bundleHelpFlag {
		defer p.Close()
		return bundleHelp(c, p, args[0], version)
	}
	m, ch, err := install.EnsureBundle(c, p)
	p.Close()
	if err != nil {
		return 0, err
	}
	install.RegisterNatively(ch)
	argv := append([]string{m.Bundle.ProgramFor(filepath.Base(args[0]))}, args[1:]...)
	// The program starts where the bundle was started, never elsewhere
	// (see session.Exec).
	dir, err := os.Getwd()
	if err != nil {
		dir = ""
	}
	// The environment passes through untouched: the bundle carries no Nix
	// whose settings np would have to protect, and the program's own
	// variables (LD_LIBRARY_PATH for a GPU driver, say) are the caller's
	// to give.
	ws, _, err := ch.Start(func(rt runtimes.Runtime) (launch.Spec, error) {
		logrus.Debugf("runtime %s: starting %s", rt.Name(), argv[0])
		logrus.Tracef("exec %q in %s", argv, dir)
		return launch.Spec{Argv: argv, Env: os.Environ(), Dir: dir, PassFDs: fds}, nil
	}, true)
	return ws, err
}

// bundleHelp says what this file is without installing anything.
func bundleHelp(c *config.Config, p *extract.Payload, argv0, version string) (syscall.WaitStatus, error) {
	m, err := extract.ReadManifest(p)
	if err != nil {
		return 0, err
	}
	name := filepath.Base(argv0)
	var b strings.Builder
	fmt.Fprintf(&b, "%s is a bundle made by np bundle (np %s, bundle %s).\n", name, version, p.Trailer.Short())
	b.WriteString(bundleSummary(m))
	if prog := m.Bundle.ProgramFor(name); prog != m.Bundle.Program {
		fmt.Fprintf(&b, "Invoked as %s, it runs %s.\n", name, prog)
	}
	var others []string
	for _, prog := range m.Bundle.Programs {
		if base := path.Base(prog); base != path.Base(m.Bundle.Program) && !slices.Contains(others, base) {
			others = append(others, base)
		}
	}
	if len(others) > 0 {
		shown := others
		if len(shown) > 20 {
			shown = append(shown[:20:20], fmt.Sprintf("and %d more", len(others)-20))
		}
		fmt.Fprintf(&b, "A link to it named after another program of the closure runs that one: %s.\n", strings.Join(shown, ", "))
	}
	installed := "not yet: the first run installs it"
	for _, dir := range []string{c.DataDir.Nix(), "/nix"} {
		if (extract.Target{NixDir: dir}).InstalledBundle(p.Trailer.Fingerprint()) != nil {
			installed = "yes, in " + dir
			break
		}
	}
	fmt.Fprintf(&b, `
Every argument goes to the program (only %s is the bundle's own); so do
the environment, the working directory, stdin/stdout/stderr and signals, and
the program's exit status is the bundle's. The program runs where /nix is
np's store, as with np run: natively where /nix/store is writable, else in a
user namespace, else traced with ptrace (NP_RUNTIME pins one).

Data dir: %s (NP_LOCATION, default $HOME), shared with np
and other bundles. Installed: %s.
Environment: NP_LOCATION, NP_RUNTIME, NP_DEBUG, NP_PTRACE_NO_SECCOMP as for np.
Exit status: the program's own; 125 when the bundle itself fails.
`, bundleHelpFlag, c.DataDir, installed)
	fmt.Print(b.String())
	return proc.ExitStatus(0), nil
}
