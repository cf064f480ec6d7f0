package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/proc"
	"github.com/np-portable/np/internal/safedir"
	"github.com/np-portable/np/internal/suggest"
)

// version is np's own version; the Makefile sets it from git.
var version = "dev"

// nixTools are the programs of the bundled Nix that np runs by name.
var nixTools = []string{
	"nix", "nix-build", "nix-channel", "nix-collect-garbage", "nix-copy-closure",
	"nix-daemon", "nix-env", "nix-hash", "nix-instantiate", "nix-prefetch-url",
	"nix-shell", "nix-store",
}

func isNixTool(name string) bool { return slices.Contains(nixTools, name) }

// command is one np subcommand.
type command struct {
	usage   string
	summary string
	help    string
	run     func(args []string) (syscall.WaitStatus, error)
}

func commands() map[string]*command {
	return map[string]*command{
		"run": {
			usage:   "np run PROGRAM [ARGS...]",
			summary: "run any program where /nix is np's store",
			help: `Runs PROGRAM inside np's environment: /nix is np's store, np's Nix is first
on PATH, then your Nix profile's bin, then your PATH. PROGRAM is looked up on
that PATH, so programs installed with nix-env or nix profile work, and so do
host programs. Each data dir has its own profile (DATA_DIR/state/profile),
channels and np expose directories. Without a program to run, np run starts $SHELL (else sh).`,
			run: cmdRun,
		},
		"link": {
			usage:   "np link DIR",
			summary: "create links named after the Nix tools in DIR",
			help: `Creates DIR/nix, DIR/nix-shell, ... as symbolic links to this np, so that
putting DIR on PATH gives you Nix's commands. Existing links to np are
replaced; other files are left alone and reported.`,
			run: cmdLink,
		},
		"expose": {
			usage:   "np expose [--remove] DIR",
			summary: "put the programs of your Nix profile on the host's PATH",
			help: `Writes into DIR a small sh wrapper for every program of your Nix profile
(this data dir's: DATA_DIR/state/profile/bin); each runs that program through
np with its own arguments, exit status and signals. Put DIR on PATH (export PATH="DIR:$PATH") and the programs you
installed with nix-env -i or nix profile add run from any shell. np keeps
DIR in sync: after every command it ran, when the profile changed (nix-env
-i/-e, nix profile add/remove, rollbacks), wrappers are added and
removed. --remove DIR removes the wrappers and forgets DIR. Files in DIR that
np did not write are left alone.`,
			run: cmdExpose,
		},
		"doctor": {
			usage:   "np doctor [--json]",
			summary: "explain which runtime works here and why",
			help: `Prints np's and Nix's versions, the data directory and its file system, the
install state, each runtime with whether it works here and the precise cause
when it does not, the runtime auto would pick and why, the CA bundle and the
nix.conf in effect. --json prints the same as one JSON object. Exits 0 when
some runtime works here, 1 otherwise.`,
			run: cmdDoctor,
		},
		"bundle": {
			usage:   bundleUsage,
			summary: "write one executable that runs a Nix-built program anywhere",
			help:    bundleHelpText,
			run:     cmdBundle,
		},
		"gc": {
			usage:   "np gc [--versions]",
			summary: "collect garbage in np's store (--versions: forget other np versions first)",
			help:    gcHelp,
			run:     cmdGC,
		},
		"repair": {
			usage:   "np repair",
			summary: "restore np's own Nix from the payload when it is damaged",
			help:    repairHelp,
			run:     cmdRepair,
		},
		"help": {
			usage:   "np help [COMMAND]",
			summary: "show help for np or one of its commands",
			run:     cmdHelp,
		},
	}
}

// run dispatches on how np was invoked: through a link named after a Nix
// tool, or as np with a command.
func run(args []string) (syscall.WaitStatus, error) {
	if filepath.Base(args[0]) == "man" {
		// np's link in the data dir's bin, which Nix's --help runs.
		return runMan(args[1:])
	}
	if name := filepath.Base(args[0]); isNixTool(name) {
		if tool, ok := nixtools.WrapperTool(args[0], os.Getenv); ok {
			// A Nix tool run inside np, through np's wrappers: the
			// data dir's profile or Nix's ordinary one, for this run.
			return 0, proc.Exec(args, tool, nixtools.Adjust(os.Environ(), args[1:]))
		}
		return runNix(append([]string{name}, args[1:]...), name)
	}
	if len(args) < 2 {
		fmt.Fprint(os.Stderr, usageText())
		return 0, &usageError{"no command given"}
	}
	if a := args[1]; (a == "--help" || a == "-h" || a == "--version" || a == "-V") && len(args) > 2 {
		return 0, &usageError{fmt.Sprintf("%s takes no arguments, got %q", a, args[2:])}
	}
	switch a := args[1]; {
	case a == "--help" || a == "-h":
		fmt.Print(usageText())
		return exitStatus(0), nil
	case a == "--version" || a == "-V":
		return printVersion()
	case isNixTool(a):
		return runNix(args[1:], "np "+a)
	}
	cmd, ok := commands()[args[1]]
	if !ok {
		if tool := suggest.Closest(args[1], nixTools, 2); tool != "" {
			// A mistyped Nix tool is a command not found, as in a shell.
			return 0, &notFoundError{fmt.Sprintf("%s is not a Nix tool; did you mean np %s?", args[1], tool)}
		}
		if c := suggest.Closest(args[1], commandNames(), 2); c != "" {
			return 0, &usageError{fmt.Sprintf("unknown command %q; did you mean np %s?", args[1], c)}
		}
		return 0, &usageError{fmt.Sprintf("unknown command %q; run a Nix tool (np nix-shell ...), a program (np run PROGRAM), or one of: %s", args[1], strings.Join(commandNames(), ", "))}
	}
	return cmd.run(args[2:])
}

// notFoundError: what np was asked to run does not exist (exit 127).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return proc.ErrNotFound }

func commandNames() []string {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usageText() string {
	var b strings.Builder
	b.WriteString(`np runs Nix on any Linux host: no installation, no root.

Usage:
  np <nix tool> [ARGS...]   run a Nix tool: ` + strings.Join(nixTools, ", ") + `
`)
	for _, n := range commandNames() {
		c := commands()[n]
		fmt.Fprintf(&b, "  %-25s %s\n", c.usage, c.summary)
	}
	b.WriteString(`  np --version              print np's version, Nix's version and the payload

A link to np named after a Nix tool (see np link) runs that tool.

Environment:
  NP_LOCATION  directory holding np's data dir .nix-portable (default: $HOME)
  NP_RUNTIME   auto (default), ns, ptrace or native (aliases bwrap, proot, nix)
  NP_DEBUG     1: debug messages, 2: trace every decision
  NP_PTRACE_NO_SECCOMP  1: the ptrace runtime traces every system call
  NP_GIT       a git binary to put on PATH inside np

Exit status: the program's own; np's own failures 125, a program that is not
executable 126, not found 127.
`)
	return b.String()
}

func cmdHelp(args []string) (syscall.WaitStatus, error) {
	if len(args) == 0 {
		fmt.Print(usageText())
		return exitStatus(0), nil
	}
	c, ok := commands()[args[0]]
	if !ok {
		if isNixTool(args[0]) {
			fmt.Printf("np %s ARGS... runs the bundled Nix's %s; see `np %s --help`.\n", args[0], args[0], args[0])
			return exitStatus(0), nil
		}
		return 0, &usageError{fmt.Sprintf("no help for %q; commands: %s", args[0], strings.Join(commandNames(), ", "))}
	}
	fmt.Printf("Usage: %s\n\n%s\n", c.usage, c.help)
	return exitStatus(0), nil
}

// machineName is uname -m's name of the architecture np was built for,
// the name its download carries (np-aarch64) and the one users compare
// with their host's.
func machineName() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return goruntime.GOARCH
}

func printVersion() (syscall.WaitStatus, error) {
	fmt.Printf("np %s (linux %s)\n", version, machineName())
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		fmt.Printf("payload: none (%v)\n", err)
		return exitStatus(0), nil
	}
	defer payload.Close()
	// The installed manifest when there is one; before the first run the
	// payload's own (its first entry, so only its start is decompressed).
	nixVersion := "unknown"
	if c, err := loadConfig(os.Getenv); err == nil {
		if m := installedManifest(c, payload); m != nil {
			nixVersion = m.NixVersion
		}
	}
	if nixVersion == "unknown" {
		if m, err := extract.ReadManifest(payload); err == nil {
			nixVersion = m.NixVersion
		}
	}
	fmt.Printf("nix (Nix) %s\npayload %s\n", nixVersion, payload.Trailer.Short())
	return exitStatus(0), nil
}

// installedManifest finds this payload's install, in the data dir or in a
// host /nix used natively, without installing anything.
func installedManifest(c *config, p *extract.Payload) *extract.Manifest {
	for _, dir := range []string{filepath.Join(c.DataDir, "nix"), "/nix"} {
		if m := (extract.Target{NixDir: dir}).Installed(p.Trailer.Fingerprint()); m != nil {
			return m
		}
	}
	return nil
}

// session is what every command that runs something needs: configuration,
// the runtime chooser and an installed Nix.
type session struct {
	c  *config
	ch *chooser
	m  *extract.Manifest
}

func prepare() (*session, error) {
	c, err := loadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	setupLogging(c)
	if err := c.checkDataDir(); err != nil {
		return nil, err
	}
	logrus.Tracef("config: data dir %s, NP_RUNTIME %s, NP_GIT %q", c.DataDir, c.Runtime, c.Git)
	ch, err := newChooser(c)
	if err != nil {
		return nil, err
	}
	logrus.Debugf("runtimes: %s", ch.why)
	m, err := ensureNix(c, ch, false)
	if err != nil {
		return nil, err
	}
	if err := registerBundles(c, ch, m); err != nil {
		return nil, err
	}
	if c.Git != "" {
		if err := linkGit(c); err != nil {
			return nil, err
		}
	}
	if err := linkMan(c); err != nil {
		return nil, err
	}
	if err := linkTools(c, m); err != nil {
		return nil, err
	}
	return &session{c: c, ch: ch, m: m}, nil
}

// linkGit makes NP_GIT's git reachable as `git` on PATH inside.
func linkGit(c *config) error {
	if err := safedir.MkdirAll(c.DataDir, "bin", 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", c.binDir(), err)
	}
	if err := extract.ReplaceSymlink(c.Git, filepath.Join(c.binDir(), "git")); err != nil {
		return fmt.Errorf("linking NP_GIT: %w", err)
	}
	return nil
}

// runNix runs a tool of the bundled Nix: argv[0] is the tool's name, shown
// how the user called it (np nix, or nix through a link).
func runNix(argv []string, shown string) (syscall.WaitStatus, error) {
	if len(argv) == 1 && argv[0] == "nix" {
		// Nix would name itself by its store path in its hint.
		fmt.Fprintf(os.Stderr, "error: no subcommand specified\nTry '%s --help' for more information.\n", shown)
		return exitStatus(1), nil
	}
	if err := checkNixHome(); err != nil {
		return 0, err
	}
	s, err := prepare()
	if err != nil {
		return 0, err
	}
	// The absolute path skips the PATH search; Nix dispatches on the base
	// name, which stays the tool's.
	argv = append([]string{s.m.Tool(argv[0])}, argv[1:]...)
	ws, err := s.execUser(argv)
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
func (s *session) ownNixDamage() error {
	p, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return nil
	}
	defer p.Close()
	return extract.Target{NixDir: s.ch.current().nixDir()}.Check(p.Trailer.Fingerprint())
}

func cmdRun(args []string) (syscall.WaitStatus, error) {
	// np run's own options come before PROGRAM: `np run prog --help` is
	// prog's help.
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		return cmdHelp([]string{"run"})
	}
	s, err := prepare()
	if err != nil {
		return 0, err
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "sh"
		}
		args = []string{sh}
	}
	return s.execUser(args)
}

// runEnv is the environment of a program np runs in rt: Nix's (nixEnv),
// the data dir's own profile, and np's offline defaults, which every
// command that runs Nix gets (say: np may print its one line about them).
func (s *session) runEnv(rt runtime, argv []string, say bool) ([]string, error) {
	sandbox, err := s.buildSandbox(rt)
	if err != nil {
		return nil, err
	}
	l := s.c.layoutFor(rt)
	migrateProfile(s.c, l, os.Getenv("HOME"))
	env := nixEnv(os.Environ(), s.c, s.m, sandbox, l)
	env = withOfflineDefaults(env, argv, s.c, os.Getenv("NIX_PATH") == "", say)
	if isNixTool(filepath.Base(argv[0])) {
		// np nix-env ... from the user's shell: the same decision as the
		// wrappers make inside (a --store of its own, say).
		env = nixtools.Adjust(env, argv[1:])
	}
	return env, nil
}

// execUser runs the user's program, as np's last act, in the first runtime
// that can start it.
func (s *session) execUser(argv []string) (syscall.WaitStatus, error) {
	// The program starts where np was started, never elsewhere: the
	// runtime enters this directory by name, or, when it has none any more
	// (getcwd fails in a deleted directory), through np's own cwd.
	dir, err := os.Getwd()
	if err != nil {
		logrus.Debugf("working directory has no name (%v): the program inherits it as it is", err)
		dir = ""
	}
	exposed := hasExposed(s.c)
	ws, rt, err := s.ch.start(func(rt runtime) (launch.Spec, error) {
		env, err := s.runEnv(rt, argv, isNixTool(filepath.Base(argv[0])))
		if err != nil {
			return launch.Spec{}, err
		}
		logrus.Debugf("runtime %s: starting %s", rt.name(), argv[0])
		logrus.Tracef("exec %q in %s", argv, dir)
		return launch.Spec{Argv: argv, Env: env, Dir: dir, PassFDs: callerFDs}, nil
	}, !exposed) // np must outlive the program to bring expose dirs up to date
	if err == nil && exposed {
		syncExposed(s.c, rt)
	}
	return ws, err
}
