package nixenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/nixtools"
	"github.com/np-portable/np/internal/plainfile"
)

// Offline use. Nix waits about 4.7 s on retries before it gives up on an
// unreachable substituter or flake registry, on every command. np decides
// once, cheaply, whether Nix's default servers can be reached and, when
// they cannot, tells Nix not to try. Only Nix's defaults are probed and
// changed: a setting the user made (NIX_CONFIG, a nix.conf of theirs, an
// --option, NIX_PATH) always wins.

// defaultServers are Nix's compiled-in network defaults np may switch off.
var defaultServers = []networkDefault{
	{setting: "substituters", host: "cache.nixos.org:443", off: "substituters ="},
	{setting: "flake-registry", host: "channels.nixos.org:443", off: "flake-registry ="},
}

// networkDefault is one of Nix's settings whose default needs a server.
type networkDefault struct {
	setting string // Nix's setting name
	host    string // host:port its default value reaches
	off     string // the NIX_CONFIG line that makes Nix not try
}

const (
	probeTimeout = 800 * time.Millisecond
	// A failed probe is trusted briefly (the network may come back), a
	// successful one longer (commands online pay nothing noticeable).
	unreachableTTL = 30 * time.Second
	reachableTTL   = 5 * time.Minute
)

// flakeNixpkgs is np's default NIX_PATH entry that needs the flake registry.
const flakeNixpkgs = "nixpkgs=flake:nixpkgs"

// probeCache is what np remembers about the servers, in the data dir.
type probeCache map[string]probeResult // keyed by "host" or "host via proxy"

type probeResult struct {
	Reachable bool      `json:"reachable"`
	Checked   time.Time `json:"checked"`
	Error     string    `json:"error,omitempty"`
}

// WithOfflineDefaults is applyOfflineDefaults on an environment list. When
// say is set (a Nix tool runs) and stderr is a terminal, np says what it did
// in one line; scripts and logs stay as Nix alone would leave them (the
// line is a debug message there).
func WithOfflineDefaults(environ, argv []string, c *config.Config, npSetNixPath, say bool) []string {
	env := newEnvList(environ)
	if note := applyOfflineDefaults(env, argv, c, npSetNixPath); note != "" {
		if say && term.IsTerminal(int(os.Stderr.Fd())) {
			fmt.Fprintf(os.Stderr, "np: %s\n", note)
		} else {
			logrus.Debug(note)
		}
	}
	if say && npSetNixPath && wantsNixpkgsPackages(argv) && !nixpkgsOnPath(filepath.SplitList(env.get("NIX_PATH"))) {
		// Nix's own answer is 15 lines about the search path.
		fmt.Fprintln(os.Stderr, "np: offline and no channel provides <nixpkgs>, so nix-shell -p has no packages to take: add a channel (np nix-channel --add URL nixpkgs, then --update) or pass -I nixpkgs=PATH to a nixpkgs checkout")
	}
	return env.list()
}

// wantsNixpkgsPackages: argv is nix-shell -p, which takes its packages from
// <nixpkgs>, with no -I of the user's.
func wantsNixpkgsPackages(argv []string) bool {
	if len(argv) == 0 || filepath.Base(argv[0]) != "nix-shell" {
		return false
	}
	packages := false
	for _, a := range argv[1:] {
		switch {
		case a == "-I" || strings.HasPrefix(a, "-I") || a == "--include":
			return false
		case a == "-p" || a == "--packages":
			packages = true
		}
	}
	return packages
}

// applyOfflineDefaults adjusts env (the environment built by Env) for
// argv: every default of Nix that needs an unreachable server is switched
// off in NIX_CONFIG, and np's own `nixpkgs=flake:nixpkgs` NIX_PATH entry is
// dropped when the registry is unreachable. It returns the one line np
// prints about it, or "" (nothing changed, or nothing new to say).
func applyOfflineDefaults(env *envList, argv []string, c *config.Config, npSetNixPath bool) string {
	user := userSettings(env, argv)
	var candidates []networkDefault
	for _, d := range defaultServers {
		if user[d.setting] {
			logrus.Tracef("offline: %s set by the user; not probed", d.setting)
			continue
		}
		candidates = append(candidates, d)
	}
	if len(candidates) == 0 {
		return ""
	}
	results, fresh := probeServers(c, env, candidates)
	var lines, hosts, settings, causes []string
	registryOff := false
	for _, d := range candidates {
		r := results[d.host]
		if r.Reachable {
			continue
		}
		lines = append(lines, d.off)
		hosts = append(hosts, strings.TrimSuffix(d.host, ":443"))
		settings = append(settings, d.setting)
		if r.Error != "" && !slices.Contains(causes, r.Error) {
			causes = append(causes, r.Error)
		}
		if d.setting == "flake-registry" {
			registryOff = true
		}
	}
	if len(lines) == 0 {
		return ""
	}
	// After np's own lines (Env's), so an np inside np still finds and
	// replaces them; before the user's, which win.
	prefix, rest := storeLocal, strings.TrimPrefix(env.get("NIX_CONFIG"), storeLocal)
	for _, line := range []string{noSandbox, ownProfileLine} {
		if strings.HasPrefix(rest, line) {
			prefix, rest = prefix+line, strings.TrimPrefix(rest, line)
		}
	}
	if _, ok := nixtools.FromEnv(env.get); ok {
		// np's wrappers give them to Nix runs with np's nix.conf only.
		env.set(nixtools.EnvOffline, strings.Join(lines, "\n")+"\n")
	} else {
		env.set("NIX_CONFIG", prefix+strings.Join(lines, "\n")+"\n"+rest)
	}
	if registryOff && npSetNixPath {
		dropFlakeNixpkgs(env)
	}
	if !fresh {
		return ""
	}
	return fmt.Sprintf("offline: %s unreachable (%s); Nix runs without %s (np checks again in %s; your own settings win)",
		strings.Join(hosts, " and "), strings.Join(causes, ", "), strings.Join(settings, " and "), ttlWords(unreachableTTL))
}

// dropFlakeNixpkgs removes np's flake:nixpkgs entry from NIX_PATH. When
// nothing else can provide <nixpkgs> either, nix-shell would print a long
// error and then use bash from PATH; np picks that bash directly.
func dropFlakeNixpkgs(env *envList) {
	// np's NIX_PATH is "[channels:]nixpkgs=flake:nixpkgs"; the entry itself
	// holds a colon, so it is cut as a whole.
	rest := strings.TrimSuffix(strings.TrimSuffix(env.get("NIX_PATH"), flakeNixpkgs), ":")
	env.set("NIX_PATH", rest)
	if env.get("NIX_BUILD_SHELL") == "" && !nixpkgsOnPath(filepath.SplitList(rest)) {
		env.set("NIX_BUILD_SHELL", "bash")
	}
}

// nixpkgsOnPath says whether a NIX_PATH (np's: the channels directory) can
// provide <nixpkgs>.
func nixpkgsOnPath(entries []string) bool {
	for _, p := range entries {
		if strings.HasPrefix(p, "nixpkgs=") {
			return true
		}
		if _, err := os.Stat(filepath.Join(p, "nixpkgs")); err == nil {
			return true
		}
	}
	return false
}

func ttlWords(d time.Duration) string { return fmt.Sprintf("%.0f s", d.Seconds()) }

// userSettings names the network settings the user made anywhere Nix reads
// them: NIX_CONFIG, their nix.conf files and the command line.
func userSettings(env *envList, argv []string) map[string]bool {
	set := map[string]bool{}
	note := func(key string) {
		key = strings.TrimPrefix(key, "extra-")
		for _, d := range defaultServers {
			if key == d.setting {
				set[key] = true
			}
		}
	}
	for _, k := range confKeys(strings.NewReader(strings.TrimPrefix(env.get("NIX_CONFIG"), storeLocal)), "", 0) {
		note(k)
	}
	for _, f := range userConfFiles(env) {
		fh, err := plainfile.Open(f)
		if err != nil {
			continue
		}
		for _, k := range confKeys(fh, filepath.Dir(f), 0) {
			note(k)
		}
		fh.Close()
	}
	for i, a := range argv {
		switch {
		case a == "--option" && i+1 < len(argv):
			note(argv[i+1])
		case strings.HasPrefix(a, "--"):
			note(strings.TrimPrefix(a, "--"))
		}
	}
	return set
}

// userConfFiles are the nix.conf files Nix reads besides np's own, in Nix's
// order: NIX_USER_CONF_FILES, else the XDG config directories.
func userConfFiles(env *envList) []string {
	if files := env.get("NIX_USER_CONF_FILES"); files != "" {
		return strings.Split(files, ":")
	}
	dirs := env.get("XDG_CONFIG_DIRS")
	if dirs == "" {
		dirs = "/etc/xdg"
	}
	home := env.get("XDG_CONFIG_HOME")
	if home == "" && env.get("HOME") != "" {
		home = filepath.Join(env.get("HOME"), ".config")
	}
	var files []string
	for _, d := range append(strings.Split(dirs, ":"), home) {
		if d != "" {
			files = append(files, filepath.Join(d, "nix", "nix.conf"))
		}
	}
	return files
}

// confKeys lists the setting names in a nix.conf, following include lines.
func confKeys(r io.Reader, dir string, depth int) []string {
	var keys []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if (fields[0] == "include" || fields[0] == "!include") && len(fields) == 2 && depth < 4 {
			inc := fields[1]
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(dir, inc)
			}
			if fh, err := os.Open(inc); err == nil {
				keys = append(keys, confKeys(fh, filepath.Dir(inc), depth+1)...)
				fh.Close()
			}
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			keys = append(keys, strings.TrimSpace(k))
		}
	}
	return keys
}

// probeServers returns whether each candidate's server can be reached,
// keyed by host, from the cache when it is recent, else by connecting (all
// at once, each within probeTimeout). fresh says whether any probe ran now.
func probeServers(c *config.Config, env *envList, candidates []networkDefault) (map[string]probeResult, bool) {
	cache := probeCache{}
	if data, err := plainfile.ReadFile(c.DataDir.ProbeCache()); err == nil {
		json.Unmarshal(data, &cache) // a damaged cache is probed afresh
	}
	// The cache is keyed by what is dialled: the same host through another
	// proxy is another question.
	targets := map[string]string{}
	now := time.Now()
	var todo []string
	for _, d := range candidates {
		target := d.host
		if p := proxyFor(env, d.host); p != "" {
			target = d.host + " via " + p
		}
		targets[d.host] = target
		r, ok := cache[target]
		ttl := unreachableTTL
		if r.Reachable {
			ttl = reachableTTL
		}
		if !ok || now.Sub(r.Checked) > ttl || r.Checked.After(now) {
			todo = append(todo, d.host)
		}
	}
	fresh := len(todo) > 0
	if fresh {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, host := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := probe(env, host)
				logrus.Debugf("offline: %s reachable=%v %s", targets[host], r.Reachable, r.Error)
				mu.Lock()
				cache[targets[host]] = r
				mu.Unlock()
			}()
		}
		wg.Wait()
		for k, r := range cache {
			if now.Sub(r.Checked) > reachableTTL {
				delete(cache, k) // a proxy no longer used, or a stale answer
			}
		}
		if data, err := json.Marshal(cache); err == nil {
			if err := extract.WriteFileAtomic(c.DataDir.ProbeCache(), data, 0o644); err != nil {
				logrus.Debugf("offline: not caching the probe: %v", err)
			}
		}
	}
	results := map[string]probeResult{}
	for host, target := range targets {
		results[host] = cache[target]
	}
	return results, fresh
}

// probe connects to host (or to the proxy Nix's curl would use for it).
func probe(env *envList, host string) probeResult {
	target := host
	if p := proxyFor(env, host); p != "" {
		target = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
	r := probeResult{Checked: time.Now(), Reachable: err == nil}
	if err != nil {
		r.Error = probeError(err)
		return r
	}
	conn.Close()
	return r
}

// probeError says in a few words why a connection failed.
func probeError(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return "no DNS answer"
	case os.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", probeTimeout)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// proxyFor returns the host:port of the HTTPS proxy curl would use for
// host, or "" for a direct connection.
func proxyFor(env *envList, host string) string {
	name := strings.Split(host, ":")[0]
	for _, k := range []string{"no_proxy", "NO_PROXY"} {
		for _, p := range strings.Split(env.get(k), ",") {
			p = strings.TrimPrefix(strings.TrimSpace(p), ".")
			if p == "*" || p != "" && (name == p || strings.HasSuffix(name, "."+p)) {
				return ""
			}
		}
	}
	for _, k := range []string{"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"} {
		v := env.get(k)
		if v == "" {
			continue
		}
		if !strings.Contains(v, "://") {
			v = "http://" + v
		}
		u, err := url.Parse(v)
		if err != nil || u.Hostname() == "" {
			continue
		}
		// curl's defaults: 443 for an https:// proxy, 1080 for any other.
		port := u.Port()
		if port == "" {
			port = "1080"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		return net.JoinHostPort(u.Hostname(), port)
	}
	return ""
}
