//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// remoteMachine is "another machine that has only np": a real sshd on
// 127.0.0.1, run by the test user with its own host key, whose sessions use
// another data dir (NP_LOCATION, set by sshd's SetEnv). Nix reaches it with
// the host's ssh client.
type remoteMachine struct {
	loc     string   // the remote's NP_LOCATION
	store   string   // the ssh-ng:// store URL Nix uses
	sshEnv  []string // NIX_SSHOPTS for the local np
	builder string   // a --builders entry for it
}

func startRemote(t *testing.T) *remoteMachine {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("this test needs Debian's openssh-server (%s): %v", sshd, err)
	}
	dir := t.TempDir()
	keygen := func(name string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen("host_key")
	keygen("id_key")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), read("id_key.pub")+"\n")

	port := freePort(t)
	r := &remoteMachine{loc: newLocation(t)}
	writeFile(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
AuthorizedKeysFile %s/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
SetEnv NP_LOCATION=%s
`, port, dir, dir, r.loc))
	writeFile(t, filepath.Join(dir, "known_hosts"), fmt.Sprintf("[127.0.0.1]:%d %s\n", port, read("host_key.pub")))
	writeFile(t, filepath.Join(dir, "ssh_config"), fmt.Sprintf(`Host np-remote
  HostName 127.0.0.1
  Port %d
  IdentityFile %s/id_key
  IdentitiesOnly yes
  UserKnownHostsFile %s/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
`, port, dir, dir))

	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		waitBounded(t, cmd, time.Minute)
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", data)
		}
	})
	waitFor(t, "sshd to listen", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	// The remote has only np: np link provides nix-daemon there.
	bin := filepath.Join(dir, "remote-bin")
	must(t, np(t, runOpts{loc: r.loc}, "link", bin))
	r.store = "ssh-ng://np-remote?remote-program=" + bin + "/nix-daemon"
	r.sshEnv = []string{"NIX_SSHOPTS=-F " + filepath.Join(dir, "ssh_config")}
	r.builder = r.store + " x86_64-linux"
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// inStore says whether a store path exists in the store of an NP_LOCATION.
func inStore(loc, path string) bool {
	_, err := os.Lstat(filepath.Join(loc, ".nix-portable", "nix", "store", filepath.Base(path)))
	return err == nil
}

// nonceExpr is a derivation nobody has built before.
func nonceExpr(name string) string {
	return fmt.Sprintf(`derivation { name = "%s"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo built > $out"]; nonce = "%d"; }`, name, time.Now().UnixNano())
}

func TestRemoteBuildOverSSHWithOnlyNpThere(t *testing.T) {
	remote := startRemote(t)
	loc := newLocation(t)
	// --max-jobs 0: this machine may not build, so the build must happen
	// on the builder.
	r := np(t, runOpts{loc: loc, env: remote.sshEnv}, "nix-build", "--no-out-link",
		"--max-jobs", "0", "--builders", remote.builder, "-E", nonceExpr("remote-built"))
	path := strings.TrimSpace(must(t, r))
	if !strings.HasSuffix(path, "-remote-built") {
		t.Fatalf("nix-build printed %q\n%s", path, r.stderr)
	}
	if !strings.Contains(r.stderr, "on 'ssh-ng://np-remote") {
		t.Errorf("Nix did not say it built on the remote:\n%s", r.stderr)
	}
	if !inStore(remote.loc, path) || !inStore(loc, path) {
		t.Fatalf("%s: in the remote's store %v, in the local store %v; want both", path, inStore(remote.loc, path), inStore(loc, path))
	}
	if out := must(t, np(t, runOpts{loc: loc}, "run", "cat", path)); out != "built\n" {
		t.Errorf("the output holds %q", out)
	}
}

func TestNixCopyToAndFromSSH(t *testing.T) {
	remote := startRemote(t)
	loc := newLocation(t)
	o := runOpts{loc: loc, env: remote.sshEnv}

	local := strings.TrimSpace(must(t, np(t, o, "nix-build", "--no-out-link", "-E", nonceExpr("copied-to"))))
	// Unsigned paths: --no-check-sigs (the remote's np-run daemon trusts
	// its own user; a signing key is the other way).
	must(t, np(t, o, "nix", "copy", "--to", remote.store, "--no-check-sigs", local))
	if !inStore(remote.loc, local) {
		t.Fatalf("nix copy --to ssh-ng: %s is not in the remote's store", local)
	}

	// Built there (with the remote's own np), fetched here.
	there := strings.TrimSpace(must(t, np(t, runOpts{loc: remote.loc}, "nix-build", "--no-out-link", "-E", nonceExpr("copied-from"))))
	if inStore(loc, there) {
		t.Fatal("the path is here before the copy")
	}
	must(t, np(t, o, "nix", "copy", "--from", remote.store, "--no-check-sigs", there))
	if !inStore(loc, there) {
		t.Fatalf("nix copy --from ssh-ng: %s is not in the local store", there)
	}
}

func TestSharedSignedBinaryCacheOnAFileSystem(t *testing.T) {
	keys := t.TempDir()
	secret := filepath.Join(keys, "cache.sec")
	writeFile(t, secret, must(t, np(t, runOpts{}, "nix", "key", "generate-secret", "--key-name", "cluster-cache-1")))
	public := strings.TrimSpace(must(t, np(t, runOpts{stdin: []byte(mustRead(t, secret))}, "nix", "key", "convert-secret-to-public")))
	other := must(t, np(t, runOpts{}, "nix", "key", "generate-secret", "--key-name", "cluster-cache-1"))
	wrongPublic := strings.TrimSpace(must(t, np(t, runOpts{stdin: []byte(other)}, "nix", "key", "convert-secret-to-public")))

	// One machine fills the shared cache, signing what it puts there.
	cache := filepath.Join(t.TempDir(), "shared-cache")
	path := strings.TrimSpace(must(t, np(t, runOpts{}, "nix-build", "--no-out-link", "-E", nonceExpr("shared"))))
	must(t, np(t, runOpts{}, "nix", "copy", "--to", "file://"+cache+"?secret-key="+secret, path))

	// Another trusts the key and substitutes from it.
	loc := newLocation(t)
	r := np(t, runOpts{loc: loc}, "nix-store", "--realise", path,
		"--option", "substituters", "file://"+cache, "--option", "trusted-public-keys", public)
	if got := strings.TrimSpace(must(t, r)); got != path || !inStore(loc, path) {
		t.Fatalf("substituting from the shared cache: printed %q, in store %v\n%s", got, inStore(loc, path), r.stderr)
	}
	// A machine trusting another key refuses it.
	loc = newLocation(t)
	r = np(t, runOpts{loc: loc}, "nix-store", "--realise", path,
		"--option", "substituters", "file://"+cache, "--option", "trusted-public-keys", wrongPublic)
	if r.code == 0 || inStore(loc, path) {
		t.Fatalf("a cache signed by an untrusted key was used: exit %d\n%s", r.code, r.stderr)
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
