package install

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/launch"
)

// ownKeyName names the key np signs its own store paths with.
const ownKeyName = "np-install"

// signOwnPaths makes np's own store paths trusted. `nix-store --load-db`
// registers them without Nix's "ultimate" flag (only builds and local
// additions get it), so `nix store verify` would call them untrusted. np
// signs them once, with a key made for this install alone and deleted right
// after signing, so nothing else can ever be signed with it; the public
// half, returned, goes into nix.conf as extra-trusted-public-keys. env is
// the environment Nix runs with.
func signOwnPaths(c *config.Config, rt runtimes.Runtime, m *extract.Manifest, env []string) (string, error) {
	seed, err := signingSeed()
	if err != nil {
		return "", fmt.Errorf("making a signing key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	keyFile := c.DataDir.SigningKey()
	os.Remove(keyFile) // a leftover of an interrupted install
	f, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("writing the signing key: %w", err)
	}
	defer os.Remove(keyFile)
	// Nix's key file format: name, a colon, base64 of libsodium's 64-byte
	// secret key, which is Go's ed25519 private key layout.
	_, werr := fmt.Fprintf(f, "%s:%s", ownKeyName, base64.StdEncoding.EncodeToString(priv))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("writing the signing key: %w", werr)
	}
	argv := []string{m.Tool("nix"), "store", "sign", "--key-file", keyFile}
	for _, p := range m.Paths {
		argv = append(argv, p.Path)
	}
	out := &runtimes.Capture{}
	ws, err := rt.Run(launch.Spec{Argv: argv, Env: env, Dir: "/", Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
	if err := runtimes.Captured(ws, err, "nix", out); err != nil {
		return "", fmt.Errorf("signing np's store paths: %w", err)
	}
	return ownKeyName + ":" + base64.StdEncoding.EncodeToString(pub), nil
}

// signingSeed returns the seed of the install's one-time signing key
// without waiting for the kernel's entropy pool. crypto/rand (getrandom
// without GRND_NONBLOCK) blocks until the pool is initialised, which on an
// old kernel in a VM without a hardware RNG takes minutes after boot, and
// np's first command would wait that long. So: getrandom when the pool is
// ready (every booted host), else /dev/urandom, which never blocks and is
// what programs read on kernels before 3.17. The key signs np's own store
// paths once and is deleted seconds later; the weaker seed of a pool not
// yet initialised is the documented price of never hanging at start.
func signingSeed() ([]byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	// Any failure falls back: EAGAIN (the pool is not initialised),
	// ENOSYS (Linux < 3.17), EPERM (a seccomp filter refusing the call).
	if n, err := unix.Getrandom(seed, unix.GRND_NONBLOCK); err == nil && n == len(seed) {
		return seed, nil
	}
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := io.ReadFull(f, seed); err != nil {
		return nil, fmt.Errorf("reading /dev/urandom: %w", err)
	}
	return seed, nil
}
