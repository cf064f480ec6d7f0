// Package install puts np's Nix, and the closures that bundles carry, into
// the data dir: the first run settles on a runtime that works here before
// unpacking anything, then writes nix.conf, registers the store paths with
// Nix, signs np's own paths with a one-time key and probes Nix's build
// sandbox in that runtime. Repair restores np's own store paths from the
// payload; RegisterBundles loads the registrations bundles left behind.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/entropy"
	"github.com/np-portable/np/internal/interrupt"
	"github.com/np-portable/np/internal/launch"
	"github.com/np-portable/np/internal/plainfile"
)

// nixConf renders np's nix.conf. Nothing in it depends on the runtime:
// the build sandbox, which does, is decided per run (see BuildSandbox).
// trustedKeys are the public keys np's own store paths are signed with.
func nixConf(m *extract.Manifest, networkFS bool, trustedKeys ...string) string {
	var b strings.Builder
	b.WriteString("# Written by np at install; your own settings belong in ~/.config/nix/nix.conf.\n")
	b.WriteString("# `sandbox` is decided per run by np, for the runtime in use (see np doctor).\n")
	b.WriteString("build-users-group =\n")
	b.WriteString("experimental-features = nix-command flakes\n")
	// The real file, not the bin/sh symlink: Nix copies a symlink into the
	// build sandbox as a symlink, whose target would be missing there.
	fmt.Fprintf(&b, "sandbox-paths = /bin/sh=%s/bin/busybox\n", m.Busybox)
	// Root in np's user namespace cannot call setgroups (np maps with
	// setgroups denied), and Nix insists on it for uid 0 unless told not to.
	b.WriteString("require-drop-supplementary-groups = false\n")
	// SELinux and NFSv4 ACLs cannot be copied into the store by an
	// unprivileged user (upstream #5).
	b.WriteString("ignored-acls = security.selinux system.nfs4_acl\n")
	if len(trustedKeys) > 0 {
		// np's own store paths are signed with it (see signOwnPaths).
		b.WriteString("extra-trusted-public-keys = " + strings.Join(trustedKeys, " ") + "\n")
	}
	if networkFS {
		// SQLite's WAL needs shared memory that network file systems do
		// not provide.
		b.WriteString("use-sqlite-wal = false\n")
	}
	return b.String()
}

// EnsureNix installs the payload into the data dir when it is not there yet
// and returns its manifest. A first install first settles on a runtime that
// works here (unpacking 50 MB only to fail at registration would repeat on
// every run), then registers the store paths through it.
// With repair, the install runs even when recorded as done, and replaces
// np's own store paths that differ from the payload (np repair).
func EnsureNix(c *config.Config, ch *runtimes.Chooser, repair bool) (*extract.Manifest, error) {
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer payload.Close()
	dir := ch.Current().NixDir()
	target := extract.Target{NixDir: dir}
	// An install watches for interrupt signals from its first step to its
	// end: a signal during any step ends np by that signal, with one line
	// naming the step (see package interrupt).
	var intr *interrupt.Watch
	var steps *stepLine
	if term.IsTerminal(int(os.Stderr.Fd())) {
		steps = &stepLine{w: os.Stderr, what: "installing Nix (first run)"}
		if repair {
			steps.what = "repairing Nix"
		}
	}
	defer func() {
		steps.clear()
		if intr != nil {
			intr.Stop()
		}
	}()
	opts := extract.Options{
		Repair: repair,
		Check: func() error {
			intr = interrupt.Start()
			if err := intr.At("choosing a runtime"); err != nil {
				return err
			}
			_, err := ch.Settle()
			if ierr := intr.Check(); ierr != nil {
				return ierr // a probe killed by the signal decides nothing
			}
			if err != nil {
				return err
			}
			if err := intr.At("creating the data dir"); err != nil {
				return err
			}
			if err := c.MakeDataDir(); err != nil {
				return err
			}
			// Steps are shown from here on: creating NP_LOCATION prints
			// a line of its own, which must not continue a step's.
			if steps != nil {
				intr.OnStep = steps.show
			}
			return nil
		},
		Interrupted: func(step string) error { return intr.At(step) },
		Finish:      func(m *extract.Manifest) error { return finishInstall(c, ch, m, intr) },
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = os.Stderr
	}
	start := time.Now()
	m, fresh, err := target.Ensure(payload, opts)
	if err != nil && intr != nil {
		if ierr := intr.Check(); ierr != nil {
			// Whatever the step made of the signal (a helper "killed by
			// interrupt"), np was told to stop: that is the news.
			return nil, ierr
		}
	}
	var damaged *extract.DamagedError
	var unusable *extract.UnusableError
	if errors.As(err, &damaged) || errors.As(err, &unusable) {
		return nil, err // it names the data dir and the fix already
	}
	if err != nil {
		var none *runtimes.NoRuntimeError
		if errors.As(err, &none) || interrupt.Is(err) {
			return nil, err
		}
		err = fmt.Errorf("installing Nix into %s: %w", dir, err)
		if hint := locationHint(err); hint != "" && !strings.Contains(err.Error(), hint) {
			err = fmt.Errorf("%w; %s", err, hint)
		}
		return nil, err
	}
	if fresh {
		logrus.Debugf("installed Nix %s into %s in %v", m.NixVersion, dir, time.Since(start).Round(time.Millisecond))
	}
	return m, nil
}

// locationHint names the fix for file system errors that mean the data dir
// cannot live where it is.
func locationHint(err error) string {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return ""
	}
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, unix.EROFS), errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return "set NP_LOCATION to a writable directory"
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return "free some space or set NP_LOCATION to a directory with about 100 MB free"
	}
	return ""
}

// finishInstall writes nix.conf, registers the new store paths with Nix and
// probes Nix's build sandbox in the runtime that registered them.
// A step that ends because np was interrupted is no result: it becomes an
// *interrupt.Error, so nothing is recorded (see package interrupt).
func finishInstall(c *config.Config, ch *runtimes.Chooser, m *extract.Manifest, w *interrupt.Watch) error {
	if err := c.MakeDataDir(); err != nil {
		return err
	}
	if err := w.At("writing nix.conf"); err != nil {
		return err
	}
	confPath := c.DataDir.NixConf()
	netFS := config.OnNetworkFS(string(c.DataDir))
	// Keys of earlier installs stay trusted: another np version sharing
	// this data dir signed its own Nix with one of them.
	keys := ownKeys(confPath)
	if err := extract.WriteFileAtomic(confPath, []byte(nixConf(m, netFS, keys...)), 0o644); err != nil {
		return err
	}
	if err := w.At("registering np's store paths with Nix"); err != nil {
		return err
	}
	// Nix's first run is next: where it would wait for the kernel's
	// entropy pool, a silent first command looks hung (see package entropy).
	if why := entropy.Wait(); why != "" {
		logrus.Warnf("%s; %s", why, entropy.Fix)
	}
	out := &runtimes.Capture{}
	ws, rt, err := ch.Start(func(rt runtimes.Runtime) (launch.Spec, error) {
		out.Reset()
		return launch.Spec{Argv: []string{m.Tool("nix-store"), "--load-db"}, Env: nixenv.InstallStepEnv(c, nixenv.Env(os.Environ(), c, m, false, nixenv.Layout{})), Dir: "/",
			Stdin: bytes.NewReader(m.Registration()), Stdout: out, Stderr: out}, nil
	}, false)
	if err := w.Check(); err != nil {
		return err
	}
	if err := runtimes.Captured(ws, err, "nix-store", out); err != nil {
		return fmt.Errorf("registering np's store paths with Nix: %w", err)
	}
	// Old records describe another install's probes.
	for _, name := range []config.RuntimeName{config.NS, config.Ptrace, config.Native} {
		os.Remove(c.DataDir.SandboxRecord(name))
	}
	if err := w.At("signing np's store paths"); err != nil {
		return err
	}
	trustedKey, err := signOwnPaths(c, rt, m, nixenv.InstallStepEnv(c, nixenv.Env(os.Environ(), c, m, false, nixenv.Layout{})))
	if err := w.Check(); err != nil {
		return err // nix was killed by the same signal: not a signing failure
	}
	if err != nil {
		return err
	}
	if err := extract.WriteFileAtomic(confPath, []byte(nixConf(m, netFS, append(keys, trustedKey)...)), 0o644); err != nil {
		return err
	}
	if err := w.At("probing Nix's build sandbox"); err != nil {
		return err
	}
	_, err = probeBuildSandbox(c, rt, m)
	return err
}

// ownKeys are the keys of np's installs that the nix.conf at path trusts.
func ownKeys(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var keys []string
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "extra-trusted-public-keys = "); ok {
			for _, k := range strings.Fields(v) {
				if strings.HasPrefix(k, ownKeyName+":") && !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys
}

// BuildSandbox says whether Nix's build sandbox is on in rt: never where
// the runtime cannot have one, else what the probe found in this runtime
// (probing now if it never ran here, e.g. the install happened under
// another runtime). A setting the user makes (NIX_CONFIG, --option) still
// wins, since np's comes first.
func BuildSandbox(c *config.Config, rt runtimes.Runtime, m *extract.Manifest) (bool, error) {
	if !rt.BuildSandbox() {
		return false, nil
	}
	if data, err := plainfile.ReadFile(c.DataDir.SandboxRecord(rt.Name())); err == nil {
		return strings.HasPrefix(string(data), "true"), nil
	}
	return probeBuildSandbox(c, rt, m)
}

// Nix turns its build sandbox off where maxUserNSSysctl is missing (a
// kernel before 4.9, Ubuntu 16.04's 4.4 say), though user namespaces work
// there: its check reads the sysctl, which only 4.9 added.
const (
	maxUserNSSysctl = "/proc/sys/user/max_user_namespaces"
	noMaxUserNSNote = " (this kernel has no " + maxUserNSSysctl + ", which Linux 4.9 added and Nix's sandbox requires; no setting brings it)"
)

// probeBuildSandbox builds a tiny derivation with Nix's sandbox on in rt and
// records the result. Nix's own sandbox-fallback is unreliable
// (NixOS/nix#4719). A probe interrupted by a signal decides nothing: np
// ends by that signal and records nothing.
func probeBuildSandbox(c *config.Config, rt runtimes.Runtime, m *extract.Manifest) (bool, error) {
	if !rt.BuildSandbox() {
		return false, nil
	}
	w := interrupt.Start()
	defer w.Stop()
	env := nixenv.InstallStepEnv(c, nixenv.Env(os.Environ(), c, m, true, nixenv.Layout{}))
	probe := func(sandbox bool) error {
		// np's own busybox as the builder, not /bin/sh: with the sandbox
		// off /bin/sh is the host's, which an image holding only np lacks.
		expr := fmt.Sprintf(`derivation { name = "np-build-probe"; system = builtins.currentSystem; builder = "${builtins.storePath %q}/bin/busybox"; args = [ "sh" "-c" "echo ok > $out" ]; nonce = "%d"; }`, m.Busybox, time.Now().UnixNano())
		out := &runtimes.Capture{}
		// No substituters: the probe must not wait on the network.
		ws, err := rt.Run(launch.Spec{Argv: []string{m.Tool("nix-build"), "--no-out-link", "--option", "substituters", "",
			"--option", "sandbox", fmt.Sprint(sandbox), "-E", expr},
			Env: env, Dir: "/", Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
		if err := w.Check(); err != nil {
			return err
		}
		return runtimes.Captured(ws, err, "nix-build", out)
	}
	ok, note := true, "a build with sandbox = true succeeded"
	if err := probe(true); err != nil {
		if interrupt.Is(err) || runtimes.BeforeStart(err) {
			return false, err
		}
		ok, note = false, "a build with sandbox = true failed: "+runtimes.FirstError(err)
		if _, err := os.Stat(maxUserNSSysctl); errors.Is(err, fs.ErrNotExist) {
			// Nix's error names the sysctl as if it were set to 0.
			note += noMaxUserNSNote
		}
		logrus.Debugf("build sandbox unusable in the %s runtime: %s", rt.Name(), note)
		if err := probe(false); err != nil {
			if interrupt.Is(err) || runtimes.BeforeStart(err) {
				return false, err
			}
			return false, fmt.Errorf("Nix cannot build here even without its sandbox: %w", err)
		}
	}
	record := fmt.Sprintf("%t\n%s\n", ok, note)
	if err := extract.WriteFileAtomic(c.DataDir.SandboxRecord(rt.Name()), []byte(record), 0o644); err != nil {
		return false, err
	}
	return ok, nil
}

// Installed finds this payload's install, in the data dir or in a host
// /nix used natively, without installing anything.
func Installed(c *config.Config, p *extract.Payload) *extract.Manifest {
	for _, dir := range []string{c.DataDir.Nix(), "/nix"} {
		if m := (extract.Target{NixDir: dir}).Installed(p.Trailer.Fingerprint()); m != nil {
			return m
		}
	}
	return nil
}
