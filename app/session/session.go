// Package session is np ready to run programs: the configuration, the
// runtime chooser and an installed Nix (Prepare), then the user's program
// or a Nix tool run as np's last act (Exec, RunNix), or a helper program
// whose output np reads (Output). Every command that runs something goes
// through it, so each gets the same install, the same environment and the
// same upkeep afterwards (bundles registered, expose dirs synced).
package session

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/app/expose"
	"github.com/np-portable/np/app/install"
	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/interrupt"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/manshim"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/safedir"
	"github.com/np-portable/np/internal/symlink"
)

// Session is what every command that runs something needs: configuration,
// the runtime chooser and an installed Nix.
type Session struct {
	C   *config.Config    // np's configuration
	Ch  *runtimes.Chooser // which runtime runs the next program
	M   *extract.Manifest // np's installed Nix
	fds []int             // descriptors >= 3 np's caller passed on, for the user's program
}

// Prepare installs np's Nix when it is not there yet, registers what
// bundles left, and makes the links np puts on PATH inside (NP_GIT's git,
// np as man, np's wrappers of the Nix tools). fds are the descriptors the
// user's program is to get.
func Prepare(c *config.Config, fds []int) (*Session, error) {
	if err := c.CheckDataDir(); err != nil {
		return nil, err
	}
	logrus.Tracef("config: data dir %s, NP_RUNTIME %s, NP_GIT %q", c.DataDir, c.Runtime, c.Git)
	ch, err := runtimes.New(c)
	if err != nil {
		return nil, err
	}
	logrus.Debugf("runtimes: %s", ch.Why)
	m, err := install.EnsureNix(c, ch, false)
	if err != nil {
		return nil, err
	}
	if err := install.RegisterBundles(c, ch, m); err != nil {
		return nil, err
	}
	if c.Git != "" {
		if err := linkGit(c); err != nil {
			return nil, err
		}
	}
	if err := manshim.LinkMan(c); err != nil {
		return nil, err
	}
	if err := nixenv.LinkTools(c, m); err != nil {
		return nil, err
	}
	return &Session{C: c, Ch: ch, M: m, fds: fds}, nil
}

// linkGit makes NP_GIT's git reachable as `git` on PATH inside.
func linkGit(c *config.Config) error {
	if err := safedir.MkdirAll(string(c.DataDir), "bin", 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.DataDir.Bin(), err)
	}
	if err := symlink.Replace(c.Git, filepath.Join(c.DataDir.Bin(), "git")); err != nil {
		return fmt.Errorf("linking NP_GIT: %w", err)
	}
	return nil
}

// RunNix runs a tool of the bundled Nix as np's last act: argv[0] is the
// tool's name. When np's own Nix fails to start, it walks np's store paths
// and reports the damage instead.
func (s *Session) RunNix(argv []string) (syscall.WaitStatus, error) {
	// The absolute path skips the PATH search; Nix dispatches on the base
	// name, which stays the tool's.
	argv = append([]string{s.M.Tool(argv[0])}, argv[1:]...)
	ws, err := s.Exec(argv)
	if nixFailedToStart(ws, err) {
		// The stamp vouched for np's store (see extract/stamp.go); np's
		// own Nix failing to start is reason enough to walk it anyway.
		if derr := s.ownNixDamage(); derr != nil {
			return 0, derr
		}
	}
	return ws, err
}

// nixFailedToStart: np's own Nix tool was not found, not executable, or
// ended with the status the dynamic loader gives when a library is
// missing (127; a tool passing on its own program's 127 costs a walk).
func nixFailedToStart(ws syscall.WaitStatus, err error) bool {
	if err != nil {
		return errors.Is(err, proc.ErrNotFound) || errors.Is(err, proc.ErrNotExecutable)
	}
	return ws.Exited() && ws.ExitStatus() == exitNotFound
}

// ownNixDamage is the full walk of np's own store paths where the session
// found them: a *extract.DamagedError, or nil.
func (s *Session) ownNixDamage() error {
	p, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return nil
	}
	defer p.Close()
	return extract.Target{NixDir: s.Ch.Current().NixDir()}.Check(p.Trailer.Fingerprint())
}

// runEnv is the environment of a program np runs in rt: Nix's (nixenv.Env),
// the data dir's own profile, and np's offline defaults, which every
// command that runs Nix gets (say: np may print its one line about them).
func (s *Session) runEnv(rt runtimes.Runtime, argv []string, say bool) ([]string, error) {
	sandbox, err := install.BuildSandbox(s.C, rt, s.M)
	if err != nil {
		return nil, err
	}
	l := nixenv.LayoutFor(s.C, rt)
	nixenv.MigrateProfile(s.C, l, s.C.Home)
	env := nixenv.Env(os.Environ(), s.C, s.M, sandbox, l)
	env = nixenv.WithOfflineDefaults(env, argv, s.C, os.Getenv("NIX_PATH") == "", say)
	if nixenv.IsTool(filepath.Base(argv[0])) {
		// np nix-env ... from the user's shell: the same decision as the
		// wrappers make inside (a --store of its own, say).
		env = nixtools.Adjust(env, argv[1:])
	}
	return env, nil
}

// Exec runs the user's program, as np's last act, in the first runtime
// that can start it.
func (s *Session) Exec(argv []string) (syscall.WaitStatus, error) {
	// The program starts where np was started, never elsewhere: the
	// runtime enters this directory by name, or, when it has none any more
	// (getcwd fails in a deleted directory), through np's own cwd.
	dir, err := os.Getwd()
	if err != nil {
		logrus.Debugf("working directory has no name (%v): the program inherits it as it is", err)
		dir = ""
	}
	exposed := expose.Has(s.C)
	ws, rt, err := s.Ch.Start(func(rt runtimes.Runtime) (launch.Spec, error) {
		env, err := s.runEnv(rt, argv, nixenv.IsTool(filepath.Base(argv[0])))
		if err != nil {
			return launch.Spec{}, err
		}
		logrus.Debugf("runtime %s: starting %s", rt.Name(), argv[0])
		logrus.Tracef("exec %q in %s", argv, dir)
		return launch.Spec{Argv: argv, Env: env, Dir: dir, PassFDs: s.fds}, nil
	}, !exposed) // np must outlive the program to bring expose dirs up to date
	if err == nil && exposed {
		expose.Sync(s.C, rt)
	}
	return ws, err
}

// OutputResult is a helper program's captured stdout and where its /nix was.
type OutputResult struct {
	Out    string
	NixDir string // the host directory that was /nix
}

// Output runs argv inside np like np run does, but captures its stdout;
// stderr is the user's when show is set (a build's progress), else it is
// kept for the error message.
func (s *Session) Output(what string, argv []string, show bool) (OutputResult, error) {
	dir, err := os.Getwd()
	if err != nil {
		return OutputResult{}, fmt.Errorf("finding the current directory: %w", err)
	}
	w := interrupt.Start()
	defer w.Stop()
	out, errOut := &runtimes.Capture{}, &runtimes.Capture{}
	ws, rt, err := s.Ch.Start(func(rt runtimes.Runtime) (launch.Spec, error) {
		out.Reset()
		errOut.Reset()
		env, err := s.runEnv(rt, argv, false)
		if err != nil {
			return launch.Spec{}, err
		}
		j := launch.Spec{Argv: argv, Env: env, Dir: dir,
			Stdin: strings.NewReader(""), Stdout: out}
		if !show {
			j.Stderr = errOut
		}
		return j, nil
	}, false)
	if err := w.Check(); err != nil {
		return OutputResult{}, err
	}
	if err := runtimes.Captured(ws, err, path.Base(argv[0])+" "+argv[1], errOut); err != nil {
		var none *runtimes.NoRuntimeError
		if errors.As(err, &none) {
			return OutputResult{}, err
		}
		return OutputResult{}, fmt.Errorf("%s: %w", what, err)
	}
	return OutputResult{Out: out.String(), NixDir: rt.NixDir()}, nil
}

// exitNotFound is a shell's status for a command not found, and the
// dynamic loader's for a missing library.
const exitNotFound = 127
