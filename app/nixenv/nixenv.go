// Package nixenv is the environment np's Nix and every program inside np
// run with: Nix's compiled-in Debian paths overridden, np's Nix and the data
// dir's own profile first on PATH, a CA bundle, a usable home and TMPDIR
// for np's install steps, and np's offline defaults (Nix's network
// defaults switched off, curl's proxy rules respected, when the servers
// cannot be reached). It also keeps the data dir's own Nix profile (Layout,
// MigrateProfile) and the links through which Nix's tools run inside np.
package nixenv

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/nixtools"
)

// storeLocal opens NIX_CONFIG inside np.
const storeLocal = nixtools.StoreLine

// noSandbox follows it in runtimes where Nix's build sandbox cannot work;
// the comment tells it apart from a line of the user's.
const noSandbox = "sandbox = false # np: no build sandbox in this runtime\n"

// strippedVars never reach programs inside: host library overrides break the
// bundled Nix (upstream #86, #161), and host Nix settings would point it at
// another store or daemon.
var strippedVars = []string{
	"LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT",
	"NIX_REMOTE", "NIX_STORE", "NIX_DAEMON_SOCKET_PATH",
}

// hostCABundles are the host files tried, in order, for TLS roots; the host's
// bundle wins over the bundled one because it carries local (corporate) CAs.
var hostCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Alpine
	"/etc/ssl/certs/ca-bundle.crt",       // NixOS, some Fedora setups
	"/etc/pki/tls/certs/ca-bundle.crt",   // RHEL, CentOS, Fedora
	"/etc/ssl/ca-bundle.pem",             // openSUSE
}

// CABundle picks the host's bundle when it has one, else the bundled one.
func CABundle(m *extract.Manifest) string {
	for _, f := range hostCABundles {
		if usableBundle(f) {
			return f
		}
	}
	return m.CABundle
}

// usableBundle: a CA bundle must be a non-empty regular file.
func usableBundle(f string) bool {
	st, err := os.Stat(f)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

// envList is an ordered environment with last-write-wins updates.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnvList(environ []string) *envList {
	e := &envList{vals: map[string]string{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		e.set(k, v)
	}
	return e
}

func (e *envList) get(k string) string { return e.vals[k] }

func (e *envList) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) unset(k string) {
	if _, ok := e.vals[k]; !ok {
		return
	}
	delete(e.vals, k)
	for i, kk := range e.keys {
		if kk == k {
			e.keys = append(e.keys[:i], e.keys[i+1:]...)
			break
		}
	}
}

func (e *envList) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// Env builds the environment every program inside np sees from the
// caller's: Nix's compiled-in Debian paths overridden, np's Nix first on PATH.
// sandbox says whether Nix's build sandbox can work in the runtime; l says
// where the user's profile and channels are.
func Env(environ []string, c *config.Config, m *extract.Manifest, sandbox bool, l Layout) []string {
	e := newEnvList(environ)
	for _, k := range strippedVars {
		if _, ok := e.vals[k]; ok {
			logrus.Tracef("env: removing %s (host library and Nix overrides break the bundled Nix)", k)
		}
		e.unset(k)
	}
	e.set("NIX_CONF_DIR", c.DataDir.Conf())
	e.set("NIX_BIN_DIR", m.Nix+"/bin")
	e.set("NIX_LIBEXEC_DIR", m.Nix+"/libexec")
	e.set("NIX_DATA_DIR", m.Nix+"/share")
	e.set("NIX_STORE_DIR", extract.StoreDir)
	e.set("NIX_STATE_DIR", "/nix/var/nix")
	e.set("NIX_LOG_DIR", "/nix/var/log/nix")

	// A `store = ...` in the user's own nix.conf must not send np's Nix to
	// another store (upstream #77); NIX_CONFIG is read after the user's
	// files, and the user's own NIX_CONFIG still comes after this line.
	// An np inside np finds an outer np's lines there and replaces them.
	cfg := strings.TrimPrefix(e.get("NIX_CONFIG"), storeLocal)
	cfg = strings.TrimPrefix(cfg, noSandbox)
	cfg = strings.TrimPrefix(cfg, ownProfileLine)
	prefix := storeLocal
	if !sandbox {
		prefix += noSandbox
	}
	// The data dir's profile (NIX_STATE_HOME and ownProfileLine) is given
	// to each Nix run by nixtools.Adjust, for the HOME np started with and
	// np's store only; programs get the record it decides by. An outer
	// np's settings are its Nix runs', not the program's.
	outer, nested := nixtools.FromEnv(e.get)
	if nested && e.get("NIX_STATE_HOME") == outer.State {
		e.unset("NIX_STATE_HOME")
	}
	tools := ""
	switch own := e.get("NIX_STATE_HOME"); {
	case l.stateHome != "" && own != "":
		// A NIX_STATE_HOME of the user's is kept, for every HOME.
		prefix += ownProfileLine
		l.stateHome = own
		unsetRecord(e)
	case l.stateHome != "":
		e.set(nixtools.EnvHome, e.get("HOME"))
		e.set(nixtools.EnvState, l.stateHome)
		e.set(nixtools.EnvConf, c.DataDir.Conf())
		e.unset(nixtools.EnvOffline) // np's offline defaults set it anew
		tools = c.DataDir.Tools(m.Nix)
	case nested:
		// An np inside np, using the outer one's /nix as its own: the
		// outer record stays.
		tools = c.DataDir.Tools(m.Nix)
	default:
		unsetRecord(e)
	}
	e.set("NIX_CONFIG", prefix+cfg)

	// A usable bundle the user chose is kept; otherwise np's choice.
	bundle := e.get("NIX_SSL_CERT_FILE")
	if !usableBundle(bundle) {
		bundle = CABundle(m)
		logrus.Tracef("env: CA bundle %s", bundle)
		e.set("NIX_SSL_CERT_FILE", bundle)
	}
	if !usableBundle(e.get("SSL_CERT_FILE")) {
		e.set("SSL_CERT_FILE", bundle)
	}

	home := e.get("HOME")
	if e.get("NIX_PATH") == "" {
		// The user's nix-channel channels first, then nixpkgs from the flake
		// registry, so `<nixpkgs>` works before any channel is added.
		// A channels directory that does not exist yet is left out: Nix
		// would warn about it on every command.
		nixPath := "nixpkgs=flake:nixpkgs"
		if ch := l.channelsDir(home); ch != "" && l.exists(ch) {
			nixPath = ch + ":" + nixPath
		}
		e.set("NIX_PATH", nixPath)
	}

	// The data dir's bin holds np as man (for Nix's --help) and NP_GIT's git.
	var path []string
	if tools != "" {
		// np's wrappers of the Nix tools (package nixtools) come first.
		path = append(path, tools)
	}
	path = append(path, m.Nix+"/bin", c.DataDir.Bin())
	if link := l.ProfileLink(home); link != "" {
		path = append(path, filepath.Join(link, "bin"))
	}
	if p := e.get("PATH"); p != "" {
		path = append(path, p)
	} else {
		path = append(path, "/usr/local/bin:/usr/bin:/bin")
	}
	// np's busybox comes last: the host's tools win, and a host with none
	// (a container image holding only np) still has a shell, ls and the
	// rest, as a builder's /bin/sh has inside the build sandbox.
	path = append(path, m.Busybox+"/bin")
	e.set("PATH", strings.Join(path, ":"))
	return e.list()
}

// unsetRecord removes what an outer np recorded for its wrappers, where
// this np keeps none.
func unsetRecord(e *envList) {
	for _, k := range []string{nixtools.EnvHome, nixtools.EnvState, nixtools.EnvConf, nixtools.EnvOffline} {
		e.unset(k)
	}
}
