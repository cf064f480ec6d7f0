package install

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/interrupt"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/proc"
)

// EnsureBundle installs the bundle's closure where the runtime finds /nix,
// unless it is there already, and returns its manifest and the chooser.
func EnsureBundle(c *config.Config, p *extract.Payload) (*extract.Manifest, *runtimes.Chooser, error) {
	if err := c.CheckDataDir(); err != nil {
		return nil, nil, err
	}
	ch, err := runtimes.New(c)
	if err != nil {
		return nil, nil, err
	}
	logrus.Debugf("runtimes: %s", ch.Why)
	dir := ch.Current().NixDir()
	opts := extract.Options{
		What: "this bundle",
		// As for np's first install: a host where no runtime works fails
		// before anything is unpacked.
		Check: func() error {
			if _, err := ch.Settle(); err != nil {
				return err
			}
			return c.MakeDataDir()
		},
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = os.Stderr
	}
	start := time.Now()
	m, fresh, err := extract.Target{NixDir: dir}.EnsureBundle(p, opts)
	if err != nil {
		var none *runtimes.NoRuntimeError
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

// RegisterBundles loads the registrations that bundles left in the store np
// is about to use into Nix's database, before anything else runs: until
// then Nix's garbage collector would take their paths for debris.
func RegisterBundles(c *config.Config, ch *runtimes.Chooser, m *extract.Manifest) error {
	t := extract.Target{NixDir: ch.Current().NixDir()}
	if !t.HasPending() {
		// The usual case: nothing to register, and Nix's environment (a
		// few percent of np run's CPU) not built for nothing.
		return nil
	}
	env := nixenv.Env(os.Environ(), c, m, false, nixenv.Layout{})
	run := func(j launch.Spec) (syscall.WaitStatus, error) {
		ws, _, err := ch.Start(func(runtimes.Runtime) (launch.Spec, error) { return j, nil }, false)
		return ws, err
	}
	return registerWith(t, m.Tool("nix-store"), env, run)
}

// RegisterNatively is a bundle's own attempt at registering, where it runs
// natively in a /nix that has a Nix of its own on PATH (np inside np, a
// single-user Nix install): that Nix's garbage collector would otherwise
// delete the bundle's paths, and it never looks at np's pending
// registrations. It is best effort: np registers them later anyway.
func RegisterNatively(ch *runtimes.Chooser) {
	if ch.Current() == nil || ch.Current().Name() != config.Native {
		return
	}
	t := extract.Target{NixDir: ch.Current().NixDir()}
	err := t.LoadPending(func(b *extract.Manifest) error {
		tool, err := proc.LookPathEnv("nix-store", os.Environ())
		if err != nil {
			return err
		}
		return loadRegistration(b, tool, os.Environ(), runtimes.Native{}.Run)
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
	w := interrupt.Start()
	defer w.Stop()
	paths := make([]string, 0, len(b.Paths))
	for _, p := range b.Paths {
		paths = append(paths, p.Path)
	}
	out, errOut := &runtimes.Capture{}, &runtimes.Capture{}
	ws, err := run(launch.Spec{Argv: append([]string{tool, "--check-validity", "--print-invalid"}, paths...),
		Env: env, Dir: "/", Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut})
	if err := w.Check(); err != nil {
		return err
	}
	if err := runtimes.Captured(ws, err, "nix-store --check-validity", errOut); err != nil {
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
	return runtimes.Captured(ws, err, "nix-store --load-db", out)
}
