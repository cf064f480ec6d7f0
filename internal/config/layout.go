package config

import (
	"path/filepath"

	"github.com/np-portable/np/internal/nixtools"
)

// DataDir is np's data dir (NP_LOCATION/.nix-portable). Every path np keeps
// in it is one method here, so its layout is written down once.
type DataDir string

func (d DataDir) path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// Nix is the host directory that holds np's store: /nix inside np.
func (d DataDir) Nix() string { return d.path("nix") }

// Conf holds nix.conf; NIX_CONF_DIR points here.
func (d DataDir) Conf() string { return d.path("conf") }

// NixConf is np's nix.conf.
func (d DataDir) NixConf() string { return d.path("conf", "nix.conf") }

// SigningKey is where the install's one-time signing key lives while it
// signs np's own store paths.
func (d DataDir) SigningKey() string { return d.path("conf", "np-install.sec") }

// SandboxRecord holds the build-sandbox probe's result for a runtime:
// "true" or "false", then a line saying why.
func (d DataDir) SandboxRecord(rt RuntimeName) string {
	return d.path("conf", "build-sandbox."+string(rt))
}

// Bin holds helper links np puts on PATH inside: np as man, git from NP_GIT.
func (d DataDir) Bin() string { return d.path("bin") }

// State is the data dir's Nix state directory (NIX_STATE_HOME): the
// profile link, the profiles, the channels list and defexpr.
func (d DataDir) State() string { return d.path("state") }

// Tools holds np's wrappers of the Nix tools of the Nix at the store path
// nix (links to np, package nixtools).
func (d DataDir) Tools(nix string) string {
	return d.path(nixtools.ToolsDirName, filepath.Base(nix))
}

// ExposeRecord lists the directories np expose keeps in sync.
func (d DataDir) ExposeRecord() string { return d.path("expose.json") }

// ProbeCache is what np remembers about reaching Nix's default servers.
func (d DataDir) ProbeCache() string { return d.path("network.json") }
