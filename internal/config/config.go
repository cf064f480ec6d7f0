// Package config is np's configuration: the NP_* environment variables,
// read once and checked in one place, and the data dir they name, with its
// layout (one method per path) and the checks that keep it private.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
)

// RuntimeName is a value of NP_RUNTIME after aliases are resolved.
type RuntimeName string

const (
	Auto   RuntimeName = "auto"
	NS     RuntimeName = "ns"
	Ptrace RuntimeName = "ptrace"
	Native RuntimeName = "native"
)

// runtimeAliases maps every accepted NP_RUNTIME value to its runtime;
// bwrap and proot are upstream nix-portable's names.
var runtimeAliases = map[string]RuntimeName{
	"":       Auto,
	"auto":   Auto,
	"ns":     NS,
	"bwrap":  NS,
	"ptrace": Ptrace,
	"proot":  Ptrace,
	"native": Native,
	"nix":    Native,
}

const validRuntimes = "auto, ns, ptrace, native (aliases: bwrap = ns, proot = ptrace, nix = native)"

// Config is np's whole configuration, read once from the environment and
// checked in one place.
type Config struct {
	Location    string       // NP_LOCATION, resolved through symlinks
	LocationSet bool         // NP_LOCATION was set (not defaulted to HOME)
	DataDir     DataDir      // Location/.nix-portable
	Home        string       // HOME, as np was started with it
	Runtime     RuntimeName  // NP_RUNTIME
	LogLevel    logrus.Level // NP_DEBUG
	Git         string       // NP_GIT: a git to put on PATH inside, or ""
	// PtraceNoSeccomp (NP_PTRACE_NO_SECCOMP=1) makes the ptrace runtime stop
	// at every system call instead of filtering with seccomp.
	PtraceNoSeccomp bool
	// PtraceNoNotify (NP_PTRACE_NO_NOTIFY=1) keeps the seccomp filter but
	// handles every filtered call at a ptrace stop, never through seccomp
	// user notifications: what kernels before 5.0 give.
	PtraceNoNotify bool
}

// Load reads NP_* variables through getenv. Every error names the bad
// value and the valid ones.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{LogLevel: logrus.WarnLevel, Home: getenv("HOME")}

	loc, from := getenv("NP_LOCATION"), "NP_LOCATION"
	c.LocationSet = loc != ""
	if loc == "" {
		loc, from = getenv("HOME"), "HOME"
		if loc == "" {
			return nil, fmt.Errorf("neither NP_LOCATION nor HOME is set; set NP_LOCATION to a directory for np's data")
		}
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return nil, fmt.Errorf("resolving %s=%q: %w", from, loc, err)
	}
	// A symlinked home must give the same data dir whichever way it is
	// reached (upstream #75). Nothing is created here: np --version and
	// np doctor leave no trace; the first install creates the directory.
	c.Location = ResolveExisting(abs)
	c.DataDir = DataDir(filepath.Join(c.Location, ".nix-portable"))

	rt, ok := runtimeAliases[strings.ToLower(getenv("NP_RUNTIME"))]
	if !ok {
		return nil, fmt.Errorf("NP_RUNTIME=%q is not a runtime; valid values: %s", getenv("NP_RUNTIME"), validRuntimes)
	}
	c.Runtime = rt

	switch d := getenv("NP_DEBUG"); d {
	case "", "0":
	case "1":
		c.LogLevel = logrus.DebugLevel
	case "2":
		c.LogLevel = logrus.TraceLevel
	default:
		return nil, fmt.Errorf("NP_DEBUG=%q is not a level; valid values: 0, 1 (debug), 2 (trace)", d)
	}

	for _, sw := range []struct {
		name string
		on   *bool
	}{{"NP_PTRACE_NO_SECCOMP", &c.PtraceNoSeccomp}, {"NP_PTRACE_NO_NOTIFY", &c.PtraceNoNotify}} {
		switch v := getenv(sw.name); v {
		case "", "0":
		case "1":
			*sw.on = true
		default:
			return nil, fmt.Errorf("%s=%q is not valid; valid values: 0, 1", sw.name, v)
		}
	}

	if g := getenv("NP_GIT"); g != "" {
		st, err := os.Stat(g)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("NP_GIT=%q is not an executable file; point it at a git binary or unset it", g)
		}
		abs, _ := filepath.Abs(g)
		c.Git = abs
	}
	return c, nil
}

// ResolveExisting resolves symlinks in the longest prefix of p that exists.
func ResolveExisting(p string) string {
	dir, rest := p, ""
	for {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}
