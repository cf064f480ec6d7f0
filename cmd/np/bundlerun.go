package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// bundleHelpFlag is the one argument a bundle keeps for itself: every other
// argument is the program's.
const bundleHelpFlag = "--np-help"

// runBundle is main's job when this executable is a bundle: run its program
// with args[1:] exactly as np run would, after installing its closure into
// the data dir on the first run.
func runBundle(p *extract.Payload, args []string) (syscall.WaitStatus, error) {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		p.Close()
		return 0, err
	}
	setupLogging(c)
	if len(args) > 1 && args[1] == bundleHelpFlag {
		defer p.Close()
		return bundleHelp(c, p, args[0])
	}
	m, ch, err := ensureBundle(c, p)
	p.Close()
	if err != nil {
		return 0, err
	}
	registerNatively(ch)
	argv := append([]string{m.Bundle.ProgramFor(filepath.Base(args[0]))}, args[1:]...)
	// The program starts where the bundle was started, never elsewhere
	// (see execUser).
	dir, err := os.Getwd()
	if err != nil {
		dir = ""
	}
	// The environment passes through untouched: the bundle carries no Nix
	// whose settings np would have to protect, and the program's own
	// variables (LD_LIBRARY_PATH for a GPU driver, say) are the caller's
	// to give.
	ws, _, err := ch.start(func(rt runtime) (launch.Spec, error) {
		logrus.Debugf("runtime %s: starting %s", rt.name(), argv[0])
		logrus.Tracef("exec %q in %s", argv, dir)
		return launch.Spec{Argv: argv, Env: os.Environ(), Dir: dir, PassFDs: callerFDs}, nil
	}, true)
	return ws, err
}

// ensureBundle installs the bundle's closure where the runtime finds /nix,
// unless it is there already, and returns its manifest and the chooser.
func ensureBundle(c *config, p *extract.Payload) (*extract.Manifest, *chooser, error) {
	if err := c.checkDataDir(); err != nil {
		return nil, nil, err
	}
	ch, err := newChooser(c)
	if err != nil {
		return nil, nil, err
	}
	logrus.Debugf("runtimes: %s", ch.why)
	dir := ch.current().nixDir()
	opts := extract.Options{
		What: "this bundle",
		// As for np's first install: a host where no runtime works fails
		// before anything is unpacked.
		Check: func() error {
			if _, err := ch.settle(); err != nil {
				return err
			}
			return c.makeDataDir()
		},
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = os.Stderr
	}
	start := time.Now()
	m, fresh, err := extract.Target{NixDir: dir}.EnsureBundle(p, opts)
	if err != nil {
		var none *noRuntimeError
		if errors.As(err, &none) {
			return nil, nil, err
		}
		err = fmt.Errorf("installing the bundle into %s: %w", dir, err)
		if hint := locationHint(err); hint != "" {
			err = fmt.Errorf("%w; %s", err, hint)
		}
		return nil, nil, err
	}
	if fresh {
		logrus.Debugf("installed bundle %s (%d store paths) into %s in %v", p.Trailer.Short(), len(m.Paths), dir, time.Since(start).Round(time.Millisecond))
	}
	return m, ch, nil
}

// bundleHelp says what this file is without installing anything.
func bundleHelp(c *config, p *extract.Payload, argv0 string) (syscall.WaitStatus, error) {
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
	for _, dir := range []string{filepath.Join(c.DataDir, "nix"), "/nix"} {
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
	return exitStatus(0), nil
}

// registerBundles loads the registrations that bundles left in the store np
// is about to use into Nix's database, before anything else runs: until
// then Nix's garbage collector would take their paths for debris.
func registerBundles(c *config, ch *chooser, m *extract.Manifest) error {
	env := nixEnv(os.Environ(), c, m, false, profileLayout{})
	run := func(j launch.Spec) (syscall.WaitStatus, error) {
		ws, _, err := ch.start(func(runtime) (launch.Spec, error) { return j, nil }, false)
		return ws, err
	}
	return registerWith(extract.Target{NixDir: ch.current().nixDir()}, m.Tool("nix-store"), env, run)
}

// registerNatively is a bundle's own attempt at registering, where it runs
// natively in a /nix that has a Nix of its own on PATH (np inside np, a
// single-user Nix install): that Nix's garbage collector would otherwise
// delete the bundle's paths, and it never looks at np's pending
// registrations. It is best effort: np registers them later anyway.
func registerNatively(ch *chooser) {
	if ch.current() == nil || ch.current().name() != runtimeNative {
		return
	}
	t := extract.Target{NixDir: ch.current().nixDir()}
	err := t.LoadPending(func(b *extract.Manifest) error {
		tool, err := proc.LookPathEnv("nix-store", os.Environ())
		if err != nil {
			return err
		}
		return loadRegistration(b, tool, os.Environ(), nativeRuntime{}.run)
	})
	if err != nil {
		logrus.Debugf("bundle: registering with the host's Nix: %v (np registers it on its next run here)", err)
	}
}

// registerWith loads t's pending registrations with the nix-store at tool,
// run by run.
func registerWith(t extract.Target, tool string, env []string, run func(launch.Spec) (syscall.WaitStatus, error)) error {
	return t.LoadPending(func(b *extract.Manifest) error { return loadRegistration(b, tool, env, run) })
}

// loadRegistration registers the paths of b that Nix does not know yet;
// paths it knows keep their own registration (a local build's, say).
func loadRegistration(b *extract.Manifest, tool string, env []string, run func(launch.Spec) (syscall.WaitStatus, error)) error {
	w := watchInterrupts()
	defer w.Stop()
	paths := make([]string, 0, len(b.Paths))
	for _, p := range b.Paths {
		paths = append(paths, p.Path)
	}
	out, errOut := &capture{}, &capture{}
	ws, err := run(launch.Spec{Argv: append([]string{tool, "--check-validity", "--print-invalid"}, paths...),
		Env: env, Dir: "/", Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut})
	if err := w.Check(); err != nil {
		return err
	}
	if err := captured(ws, err, "nix-store --check-validity", errOut); err != nil {
		return err
	}
	invalid := map[string]bool{}
	for _, l := range strings.Fields(out.String()) {
		invalid[l] = true
	}
	if len(invalid) == 0 {
		return nil
	}
	logrus.Debugf("registering %d store paths of a bundle with Nix", len(invalid))
	out.Reset()
	ws, err = run(launch.Spec{Argv: []string{tool, "--load-db"}, Env: env, Dir: "/",
		Stdin: bytes.NewReader(b.Subset(invalid).Registration()), Stdout: out, Stderr: out})
	if err := w.Check(); err != nil {
		return err
	}
	return captured(ws, err, "nix-store --load-db", out)
}
