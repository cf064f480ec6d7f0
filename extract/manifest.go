package extract

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// StoreDir is where every payload path lives as seen by Nix. It never
// changes: the point of np is that binary-cache paths work unchanged.
const StoreDir = "/nix/store"

// Manifest describes the payload; it is the archive's first entry, written
// by assets/mkpayload.
type Manifest struct {
	Version    int         `json:"version"`
	NixVersion string      `json:"nixVersion"`
	Nix        string      `json:"nix"`      // store path of Nix itself
	Busybox    string      `json:"busybox"`  // store path of a static busybox
	CABundle   string      `json:"caBundle"` // file inside a store path
	Paths      []PathEntry `json:"paths"`
	// Bundle is set in a bundle's manifest, whose paths are a program's
	// closure (and carry no Nix unless the program needs it).
	Bundle *BundleInfo `json:"bundle,omitempty"`
}

// PathEntry is one store path with what Nix needs to register it as valid.
type PathEntry struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"` // sha256, lower-case hex
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
}

// parseManifest decodes and checks a manifest, so that a bad payload fails
// before anything is moved into a store.
func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding payload manifest: %w", err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("payload manifest version %d is not supported by this np", m.Version)
	}
	known := map[string]bool{}
	for _, p := range m.Paths {
		if err := checkStorePath(p.Path); err != nil {
			return nil, err
		}
		if len(p.NarHash) != 64 {
			return nil, fmt.Errorf("payload manifest: %s has a malformed narHash", p.Path)
		}
		known[p.Path] = true
	}
	for _, p := range m.Paths {
		for _, r := range p.References {
			if !known[r] {
				return nil, fmt.Errorf("payload manifest: %s references %s, which the payload lacks", p.Path, r)
			}
		}
	}
	if m.Bundle != nil {
		if err := m.Bundle.check(known); err != nil {
			return nil, err
		}
		return &m, nil
	}
	for _, need := range []string{m.Nix, m.Busybox} {
		if !known[need] {
			return nil, fmt.Errorf("payload manifest: %q is not one of its store paths", need)
		}
	}
	return &m, nil
}

// checkStorePath accepts only /nix/store/<32 chars>-<name> with no slashes in
// the name, so a manifest can never direct a rename outside the store.
func checkStorePath(p string) error {
	base, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok || strings.Contains(base, "/") || len(base) < 34 || base[32] != '-' || base == "." || base == ".." {
		return fmt.Errorf("payload manifest: %q is not a store path", p)
	}
	return nil
}

// Names returns the base names of the payload's store paths.
func (m *Manifest) Names() []string {
	out := make([]string, len(m.Paths))
	for i, p := range m.Paths {
		out[i] = path.Base(p.Path)
	}
	return out
}

// Registration renders the paths in the format `nix-store --load-db` reads
// (the one `nix-store --dump-db` writes): path, NAR hash, NAR size, deriver
// (empty), reference count, references.
func (m *Manifest) Registration() []byte {
	var b strings.Builder
	for _, p := range m.Paths {
		b.WriteString(p.Path + "\n")
		b.WriteString(p.NarHash + "\n")
		b.WriteString(strconv.FormatInt(p.NarSize, 10) + "\n")
		b.WriteString("\n")
		b.WriteString(strconv.Itoa(len(p.References)) + "\n")
		for _, r := range p.References {
			b.WriteString(r + "\n")
		}
	}
	return []byte(b.String())
}

// Tool is the path of one program of the bundled Nix, e.g. Tool("nix-store").
func (m *Manifest) Tool(name string) string { return m.Nix + "/bin/" + name }
