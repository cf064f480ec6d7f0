package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"np/extract"
)

// nixConf renders np's nix.conf. sandboxNote says why the build sandbox is
// off when the probe found it unusable.
func nixConf(m *extract.Manifest, sandbox bool, sandboxNote string, networkFS bool) string {
	var b strings.Builder
	b.WriteString("# Written by np at install; your own settings belong in ~/.config/nix/nix.conf.\n")
	b.WriteString("build-users-group =\n")
	b.WriteString("experimental-features = nix-command flakes\n")
	if sandboxNote != "" {
		b.WriteString("# sandbox probe: " + sandboxNote + "\n")
	}
	fmt.Fprintf(&b, "sandbox = %t\n", sandbox)
	// The real file, not the bin/sh symlink: Nix copies a symlink into the
	// build sandbox as a symlink, whose target would be missing there.
	fmt.Fprintf(&b, "sandbox-paths = /bin/sh=%s/bin/busybox\n", m.Busybox)
	// Root in np's user namespace cannot call setgroups (np maps with
	// setgroups denied), and Nix insists on it for uid 0 unless told not to.
	b.WriteString("require-drop-supplementary-groups = false\n")
	// SELinux and NFSv4 ACLs cannot be copied into the store by an
	// unprivileged user (upstream #5).
	b.WriteString("ignored-acls = security.selinux system.nfs4_acl\n")
	if networkFS {
		// SQLite's WAL needs shared memory that network file systems do
		// not provide.
		b.WriteString("use-sqlite-wal = false\n")
	}
	return b.String()
}

// ensureNix installs the payload into the runtime's Nix directory when it is
// not there yet and returns its manifest.
// With repair, the install runs even when recorded as done, and replaces
// np's own store paths that differ from the payload (np repair).
func ensureNix(c *config, rt runtime, repair bool) (*extract.Manifest, error) {
	payload, err := extract.OpenPayload("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer payload.Close()
	target := extract.Target{NixDir: rt.nixDir()}
	opts := extract.Options{
		Repair: repair,
		// Unpacking 50 MB only to fail at registration would repeat on
		// every run: make sure the runtime works first.
		Check: func() error {
			// A signal during the probe ends np: see interruptWatch.
			intr := watchInterrupts()
			err := rt.check()
			intr.stop()
			if ierr := intr.check(); ierr != nil {
				return ierr
			}
			if err != nil {
				return err
			}
			return c.makeDataDir()
		},
		Finish: func(m *extract.Manifest) error { return finishInstall(c, rt, m) },
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		opts.Progress = os.Stderr
	}
	start := time.Now()
	m, fresh, err := target.Ensure(payload, opts)
	var damaged *extract.DamagedError
	if errors.As(err, &damaged) {
		return nil, err // it names the data dir and the fix already
	}
	if err != nil {
		err = fmt.Errorf("installing Nix into %s: %w", rt.nixDir(), err)
		if hint := locationHint(err); hint != "" {
			err = fmt.Errorf("%w; %s", err, hint)
		}
		return nil, err
	}
	if fresh {
		logrus.Debugf("installed Nix %s into %s in %v", m.NixVersion, rt.nixDir(), time.Since(start).Round(time.Millisecond))
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

// finishInstall registers the new store paths with Nix, probes whether Nix's
// build sandbox works in this runtime and writes nix.conf accordingly.
// A step that ends because np was interrupted is no result: it becomes an
// *interruptedError, so nothing is recorded (see interruptWatch).
func finishInstall(c *config, rt runtime, m *extract.Manifest) error {
	intr := watchInterrupts()
	defer intr.stop()
	if err := c.makeDataDir(); err != nil {
		return err
	}
	confPath := filepath.Join(c.confDir(), "nix.conf")
	netFS := onNetworkFS(c.DataDir)
	if err := extract.WriteFileAtomic(confPath, []byte(nixConf(m, false, "", netFS)), 0o644); err != nil {
		return err
	}
	env := withUsableTmpdir(nixEnv(os.Environ(), c, m))

	out, err := runCaptured(rt, job{argv: []string{m.Tool("nix-store"), "--load-db"}, env: env, dir: "/",
		stdin: bytes.NewReader(m.Registration())})
	if ierr := intr.check(); ierr != nil {
		return ierr
	}
	if err != nil {
		return fmt.Errorf("registering np's store paths with Nix: %w%s", err, out)
	}

	// Nix's own sandbox-fallback is unreliable (NixOS/nix#4719), so build a
	// tiny derivation with the sandbox on and record what happened.
	probe := func(sandbox bool) (string, error) {
		expr := fmt.Sprintf(`derivation { name = "np-build-probe"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo ok > $out" ]; nonce = "%d"; }`, time.Now().UnixNano())
		// No substituters: the probe must not wait on the network.
		return runCaptured(rt, job{argv: []string{m.Tool("nix-build"), "--no-out-link", "--option", "substituters", "",
			"--option", "sandbox", fmt.Sprint(sandbox), "-E", expr},
			env: env, dir: "/", stdin: strings.NewReader("")})
	}
	sandbox, note := true, ""
	out, err = probe(true)
	if ierr := intr.check(); ierr != nil {
		return ierr
	}
	if err != nil {
		sandbox, note = false, "a build with sandbox = true failed here: "+firstError(out, err)
		logrus.Debugf("build sandbox unusable in the %s runtime: %s", rt.name(), note)
		out, err := probe(false)
		if ierr := intr.check(); ierr != nil {
			return ierr
		}
		if err != nil {
			return fmt.Errorf("Nix cannot build here even without its sandbox: %w%s", err, out)
		}
	}
	return extract.WriteFileAtomic(confPath, []byte(nixConf(m, sandbox, note, netFS)), 0o644)
}

// runCaptured runs j with its output collected; on failure the output comes
// back formatted for an error message.
func runCaptured(rt runtime, j job) (string, error) {
	var out bytes.Buffer
	j.stdout, j.stderr = &out, &out
	ws, err := rt.run(j)
	if err == nil && !ws.Exited() {
		err = fmt.Errorf("%s killed by %v", filepath.Base(j.argv[0]), ws.Signal())
	} else if err == nil && ws.ExitStatus() != 0 {
		err = fmt.Errorf("%s exited with status %d", filepath.Base(j.argv[0]), ws.ExitStatus())
	}
	if text := strings.TrimSpace(out.String()); err != nil && text != "" {
		return ":\n" + text, err
	}
	return "", err
}

// firstError picks the line of Nix's output that says what went wrong.
func firstError(out string, err error) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "error:") {
			return l
		}
	}
	return err.Error()
}
