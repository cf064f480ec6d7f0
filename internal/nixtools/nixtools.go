// Package nixtools decides, for each run of a Nix tool inside np, whether
// the data dir's own Nix profile applies to it or Nix's ordinary
// behaviour does.
//
// np gives each data dir its own profile, channels and defexpr by setting
// NIX_STATE_HOME (and use-xdg-base-directories in NIX_CONFIG). Those are
// environment settings, so every program inside np inherits them, and Nix
// cannot tell the user's own commands from a program (a test suite, a CI
// script, home-manager) that chose its own HOME or its own store: they all
// shared the data dir's profile. The decision needs HOME and the store as
// they are when each Nix starts, so np makes it there: the Nix tools on
// PATH inside np are links to np, which adjusts the environment for that
// one run (Adjust) and execs the real tool. np records what it started
// with in the environment (Env* below); the data dir's profile applies
// while HOME is that HOME and the store is np's, and Nix's ordinary
// behaviour (the profile under HOME, no np settings) otherwise.
package nixtools

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The environment np records for its wrappers.
const (
	// EnvHome is the HOME np started with: the one whose profile is the
	// data dir's.
	EnvHome = "NP_PROFILE_HOME"
	// EnvState is the data dir's Nix state directory, the NIX_STATE_HOME np
	// sets for EnvHome.
	EnvState = "NP_PROFILE_STATE"
	// EnvConf is np's NIX_CONF_DIR, whose nix.conf np's NIX_CONFIG lines
	// were decided with.
	EnvConf = "NP_NIX_CONF_DIR"
)

// ToolsDirName is the directory, in a data dir, of the wrappers: one
// directory per Nix np carries, named as its store path
// (nix-tools/<hash>-nix-<version>/nix-env, ...), so that a wrapper knows
// its Nix even where np's record is gone (in a build, whose environment
// Nix clears) and np versions sharing a data dir each run their own.
const ToolsDirName = "nix-tools"

// np's offline defaults (internal/nixenv/offline.go: Nix's defaults that need an
// unreachable server, switched off) were decided for np's nix.conf. np
// records them (EnvOffline) instead of putting them in programs'
// NIX_CONFIG, and a Nix run gets them only with np's NIX_CONF_DIR: a
// program with a nix.conf of its own keeps its own settings (and sees the
// NIX_CONFIG it set, in a Nix run's children too). In a run's NIX_CONFIG
// they carry offlineMark, so a child's run can tell them from the user's.
const (
	EnvOffline  = "NP_OFFLINE_CONFIG"
	offlineMark = " # np: offline, for np's nix.conf"
)

// The NIX_CONFIG lines np writes.
const (
	// StoreLine keeps a `store = ...` of the user's nix.conf from sending
	// np's Nix to another store (upstream #77).
	StoreLine = "store = local\n"
	// ProfileLine puts the profile link in the state directory too.
	ProfileLine = "use-xdg-base-directories = true # np: profile and channels in the data dir\n"
)

// np's own store and state, as it sets NIX_STORE_DIR and NIX_STATE_DIR.
const (
	storeDir = "/nix/store"
	stateDir = "/nix/var/nix"
)

// Recorded is what np recorded, or ok false outside np (or where np keeps
// Nix's defaults: the native runtime, a NIX_STATE_HOME of the user's).
type Recorded struct {
	Home, State string
}

// FromEnv reads the record.
func FromEnv(get func(string) string) (Recorded, bool) {
	r := Recorded{Home: get(EnvHome), State: get(EnvState)}
	return r, r.Home != "" && r.State != ""
}

// OrdinaryReason says why a Nix run with args in the environment get
// gets Nix's ordinary behaviour, or "" when the data dir's profile applies.
func (r Recorded) OrdinaryReason(get func(string) string, args []string) string {
	if h := get("HOME"); !samePath(h, r.Home) {
		return "HOME is " + h + ", not " + r.Home
	}
	if v := get("NIX_REMOTE"); !localStore(v) {
		return "NIX_REMOTE is " + v
	}
	if v := get("NIX_STORE_DIR"); v != "" && filepath.Clean(v) != storeDir {
		return "NIX_STORE_DIR is " + v
	}
	if v := get("NIX_STATE_DIR"); v != "" && filepath.Clean(v) != stateDir {
		return "NIX_STATE_DIR is " + v
	}
	if v, ok := configStore(get("NIX_CONFIG")); ok && !localStore(v) {
		return "NIX_CONFIG sets store = " + v
	}
	if v, ok := argStore(args); ok && !localStore(v) {
		return "the command line sets the store to " + v
	}
	return ""
}

// localStore: the store URIs that are np's own store.
func localStore(v string) bool { return v == "" || v == "local" || v == "auto" }

// samePath compares two directories by name, then by identity (a HOME
// reached through a symbolic link is the same HOME).
func samePath(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// configStore is the last `store` setting in a NIX_CONFIG, np's own
// leading line included (a later line wins, as in Nix).
func configStore(cfg string) (string, bool) {
	val, found := "", false
	for _, line := range strings.Split(cfg, "\n") {
		line, _, _ = strings.Cut(line, "#")
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "store" {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

// argStore is the store a command line names (--store URI or --option
// store URI); Nix's legacy tools take both, as does nix.
func argStore(args []string) (string, bool) {
	val, found := "", false
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--":
			return val, found
		case args[i] == "--store" && i+1 < len(args):
			val, found = args[i+1], true
			i++
		case args[i] == "--option" && i+2 < len(args) && args[i+1] == "store":
			val, found = args[i+2], true
			i += 2
		}
	}
	return val, found
}

// Adjust returns environ for one run of a Nix tool with args (its
// arguments, without the program name): with the data dir's profile
// settings where they apply, without them where Nix's ordinary behaviour
// does. Outside np (nothing recorded) environ is returned unchanged.
func Adjust(environ, args []string) []string {
	e := parseEnv(environ)
	r, ok := FromEnv(e.get)
	if !ok {
		return environ
	}
	cfg := e.get("NIX_CONFIG")
	if e.get("NIX_REMOTE") != "" {
		// A store the program named: np's line would override it.
		cfg = strings.Replace(cfg, StoreLine, "", 1)
	} else if !strings.HasPrefix(cfg, StoreLine) {
		cfg = StoreLine + cfg
	}
	if r.OrdinaryReason(e.get, args) == "" {
		if _, set := e.vals["NIX_STATE_HOME"]; !set {
			e.set("NIX_STATE_HOME", r.State)
		}
		if !strings.Contains(cfg, ProfileLine) {
			cfg = withProfileLine(cfg)
		}
	} else {
		if e.get("NIX_STATE_HOME") == r.State {
			e.unset("NIX_STATE_HOME")
		}
		cfg = strings.ReplaceAll(cfg, ProfileLine, "")
		e.setIf("NIX_PATH", ordinaryNixPath(e.get("NIX_PATH"), r.State, e.get("HOME")))
	}
	cfg = withoutOfflineLines(cfg)
	if samePath(e.get("NIX_CONF_DIR"), e.get(EnvConf)) {
		cfg = withOfflineLines(cfg, e.get(EnvOffline))
	}
	e.setIf("NIX_CONFIG", cfg)
	return e.list()
}

// withProfileLine puts ProfileLine where np writes it: after np's own
// leading lines (the store line, lines marked "# np:"), before the user's,
// whose own use-xdg-base-directories wins.
func withProfileLine(cfg string) string {
	lines := strings.SplitAfter(cfg, "\n")
	i := 0
	for i < len(lines) && (lines[i] == StoreLine || strings.Contains(lines[i], " # np: ")) {
		i++
	}
	return strings.Join(lines[:i], "") + ProfileLine + strings.Join(lines[i:], "")
}

// withoutOfflineLines drops the offline lines a Nix run was given.
func withoutOfflineLines(cfg string) string {
	lines := strings.SplitAfter(cfg, "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool {
		return strings.HasSuffix(strings.TrimSuffix(l, "\n"), offlineMark)
	}), "")
}

// withOfflineLines puts np's offline lines (marked) after np's own.
func withOfflineLines(cfg, offline string) string {
	var add []string
	for _, l := range strings.Split(offline, "\n") {
		if strings.TrimSpace(l) != "" {
			add = append(add, l+offlineMark+"\n")
		}
	}
	if len(add) == 0 {
		return cfg
	}
	lines := strings.SplitAfter(cfg, "\n")
	i := 0
	for i < len(lines) && (lines[i] == StoreLine || strings.Contains(lines[i], " # np: ")) {
		i++
	}
	return strings.Join(lines[:i], "") + strings.Join(add, "") + strings.Join(lines[i:], "")
}

// ordinaryNixPath replaces the data dir's channels in a NIX_PATH np made
// with HOME's, as Nix's default search path has them, when they exist.
func ordinaryNixPath(nixPath, state, home string) string {
	ours := filepath.Join(state, "defexpr", "channels")
	parts := filepath.SplitList(nixPath)
	i := slices.Index(parts, ours)
	if i < 0 {
		return nixPath
	}
	theirs := filepath.Join(home, ".nix-defexpr", "channels")
	if _, err := os.Stat(theirs); home != "" && err == nil {
		parts[i] = theirs
	} else {
		parts = slices.Delete(parts, i, i+1)
	}
	return strings.Join(parts, string(filepath.ListSeparator))
}

// WrapperTool says whether np was started as one of the wrappers, and
// which of np's Nix tools that is: argv0 is a path into a wrappers'
// directory (DATA_DIR/nix-tools/<store path name>), or a name that PATH
// finds there first (a shell passes the bare name as argv[0]), and that
// Nix is in /nix/store. A link to np elsewhere (np link) is np proper,
// which starts a whole np with its own NP_LOCATION.
func WrapperTool(argv0 string, get func(string) string) (string, bool) {
	return wrapperTool(argv0, get, storeDir)
}

func wrapperTool(argv0 string, get func(string) string, store string) (string, bool) {
	name := filepath.Base(argv0)
	dir := ""
	if strings.Contains(argv0, "/") {
		dir = filepath.Dir(argv0)
	} else {
		for _, d := range filepath.SplitList(get("PATH")) {
			if d == "" {
				d = "."
			}
			if st, err := os.Stat(filepath.Join(d, name)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				dir = d
				break
			}
		}
	}
	if dir == "" || filepath.Base(filepath.Dir(dir)) != ToolsDirName {
		return "", false
	}
	tool := filepath.Join(store, filepath.Base(dir), "bin", name)
	if _, err := os.Stat(tool); err != nil {
		return "", false
	}
	return tool, true
}

// env is an ordered environment; the first of duplicate keys wins, as
// getenv(3) reads it, and the others are dropped.
type env struct {
	keys []string
	vals map[string]string
}

func parseEnv(environ []string) *env {
	e := &env{vals: map[string]string{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, dup := e.vals[k]; dup {
			continue
		}
		e.keys = append(e.keys, k)
		e.vals[k] = v
	}
	return e
}

func (e *env) get(k string) string { return e.vals[k] }

func (e *env) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

// setIf sets k to v unless k is unset and v empty (an unset variable
// stays unset).
func (e *env) setIf(k, v string) {
	if _, ok := e.vals[k]; ok || v != "" {
		e.set(k, v)
	}
}

func (e *env) unset(k string) {
	if _, ok := e.vals[k]; !ok {
		return
	}
	delete(e.vals, k)
	e.keys = slices.DeleteFunc(e.keys, func(kk string) bool { return kk == k })
}

func (e *env) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}
