package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/entropy"
	"github.com/np-portable/np/nsbox"
	"github.com/np-portable/np/ptrace"
)

// runtimeReport says whether one runtime works here and why.
type runtimeReport struct {
	Name      runtimeName `json:"name"`
	Available bool        `json:"available"`
	Cause     string      `json:"cause,omitempty"` // a word naming why not, for scripts
	Detail    string      `json:"detail"`
	// BuildSandbox says whether Nix's build sandbox is on in this runtime.
	BuildSandbox string `json:"buildSandbox,omitempty"`
}

// availableDetail says what a working runtime does.
var availableDetail = map[runtimeName]string{
	runtimeNative: "/nix/store exists and is writable by this user",
	runtimeNS:     "user and mount namespaces can be created and set up",
	runtimePtrace: "this process may trace its children",
}

// sandboxOffMeans is what builds are like without Nix's build sandbox. The
// sandbox gives a builder only its declared inputs and np's busybox as
// /bin/sh (with its applets: mkdir works with PATH unset); without it the
// builder sees the whole host.
const sandboxOffMeans = "builds see the host's files and run the host's /bin/sh, not np's busybox, with Nix's PATH=/path-not-set: a builder must set PATH or name its tools by store path, and a dependency it did not declare goes unnoticed"

// sandboxState is what the last build-sandbox probe found in a runtime.
func sandboxState(c *config, name runtimeName) string {
	data, err := os.ReadFile(sandboxRecord(c, name))
	if err != nil {
		return "not probed yet (the first run in this runtime probes it)"
	}
	ok, why, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	if ok == "true" {
		return "on"
	}
	return "off: " + why + "; " + sandboxOffMeans
}

// doctorReport is everything np doctor prints.
type doctorReport struct {
	NpVersion  string          `json:"npVersion"`
	NixVersion string          `json:"nixVersion"`
	Payload    string          `json:"payload"`
	DataDir    string          `json:"dataDir"`
	FSType     string          `json:"fsType"`
	Warnings   []string        `json:"warnings"`
	Installed  bool            `json:"installed"`
	Damaged    bool            `json:"damaged"` // np cannot run with this data dir: a repair or a fix is needed (see warnings)
	Runtimes   []runtimeReport `json:"runtimes"`
	// Uses is the runtime np's commands use here: NP_RUNTIME's when it is
	// set, else auto's pick; "" when that runtime does not work here.
	Uses        runtimeName       `json:"uses"`
	Auto        runtimeName       `json:"auto"` // the runtime NP_RUNTIME=auto picks
	AutoReason  string            `json:"autoReason"`
	CABundle    string            `json:"caBundle"`
	NixConfPath string            `json:"nixConfPath"`
	NixConf     string            `json:"nixConf"`
	Facts       map[string]string `json:"facts"`
}

func cmdDoctor(args []string) (syscall.WaitStatus, error) {
	asJSON := false
	for _, a := range args {
		if a != "--json" {
			return 0, &usageError{fmt.Sprintf("np doctor: unknown option %q", a)}
		}
		asJSON = true
	}
	c, err := loadConfig(os.Getenv)
	if err != nil {
		return 0, err
	}
	setupLogging(c)
	r := diagnose(c)
	if asJSON {
		out, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return 0, fmt.Errorf("encoding report: %w", err)
		}
		fmt.Println(string(out))
	} else {
		printReport(r)
	}
	// Uses is empty when no runtime works, or when the one NP_RUNTIME pins
	// does not: every command would then fail.
	if r.Uses == "" || r.Damaged {
		return exitStatus(1), nil
	}
	return exitStatus(0), nil
}

func diagnose(c *config) *doctorReport {
	r := &doctorReport{NpVersion: version, DataDir: c.DataDir, NixVersion: "unknown", Payload: "none"}
	// A data dir that does not exist yet is normal before the first run:
	// its file system is that of the nearest directory that exists.
	r.FSType, r.Warnings = fsReport(nearestExisting(c.Location), dirExists(c.DataDir))
	if networkFS[r.FSType] {
		if err := lockProbe(nearestExisting(c.DataDir)); err != nil {
			r.Damaged = true
			r.Warnings = append(r.Warnings, err.Error())
		}
	}

	// Not damage: Nix waits, then works.
	if why := entropy.Wait(); why != "" {
		r.Warnings = append(r.Warnings, why+"; "+entropy.Fix)
	}

	var m *extract.Manifest
	var preflight func(nixDir string) error // why the first command's install would fail
	if p, err := extract.OpenPayload("/proc/self/exe"); err != nil {
		r.Warnings = append(r.Warnings, err.Error())
	} else {
		r.Payload = p.Trailer.Short()
		if m = installedManifest(c, p); m != nil {
			r.Installed = true
			r.NixVersion = m.NixVersion
		}
		if err := ownStoreDamage(c, p); err != nil {
			r.Damaged = true
			r.Warnings = append(r.Warnings, err.Error())
		}
		if err := c.checkDataDir(); err != nil { // np refuses to run with it
			r.Damaged = true
			r.Warnings = append(r.Warnings, err.Error())
		}
		if m == nil {
			preflight = func(nixDir string) error { return (extract.Target{NixDir: nixDir}).Preflight(p) }
		}
		defer p.Close()
	}

	// auto's pick comes from the chooser every run uses; the report on each
	// runtime from probing it directly.
	auto := *c
	auto.Runtime = runtimeAuto
	ch, err := newChooser(&auto)
	if err != nil { // cannot happen for auto
		r.AutoReason = err.Error()
		return r
	}
	picked, autoErr := ch.settle()
	r.Facts = map[string]string{}
	for _, rt := range allRuntimes(c) {
		rep := runtimeReport{Name: rt.name(), Available: true, Detail: availableDetail[rt.name()]}
		err := rt.check()
		if rt.name() == runtimeNS {
			for k, v := range nsbox.Diagnose(err).Facts {
				r.Facts[k] = v
			}
		}
		if rt.name() == runtimePtrace {
			for k, v := range ptrace.Diagnose(err).Facts {
				r.Facts[k] = v
			}
		}
		if err != nil {
			rep.Available = false
			rep.Cause, rep.Detail = rt.explain(err)
		} else if rt.buildSandbox() {
			rep.BuildSandbox = sandboxState(c, rt.name())
		} else {
			rep.BuildSandbox = "off: this runtime cannot have one; " + sandboxOffMeans
		}
		r.Runtimes = append(r.Runtimes, rep)
	}
	if autoErr != nil {
		r.AutoReason = autoErr.Error()
	} else {
		r.Auto = picked.name()
		r.AutoReason = ch.why
		if preflight != nil {
			// The first command would fail: say so now, not after it.
			if err := preflight(picked.nixDir()); err != nil {
				r.Damaged = true
				r.Warnings = append(r.Warnings, err.Error())
			}
		}
		if len(ch.refused) > 0 {
			_, detail := ch.refused[0].rt.explain(ch.refused[0].err)
			r.AutoReason = fmt.Sprintf("%s is refused here: %s", ch.refused[0].rt.name(), detail)
		}
	}
	r.Uses = r.Auto
	if c.Runtime != runtimeAuto {
		r.AutoReason += fmt.Sprintf(" (but NP_RUNTIME=%s overrides auto)", c.Runtime)
		r.Uses = ""
		for _, rep := range r.Runtimes {
			if rep.Name == c.Runtime && rep.Available {
				r.Uses = c.Runtime
			}
		}
	}

	if m != nil {
		r.CABundle = caBundle(m)
	} else {
		r.CABundle = "(decided after install)"
	}
	if r.Warnings == nil {
		r.Warnings = []string{} // JSON [] rather than null
	}
	if r.Facts == nil {
		r.Facts = map[string]string{}
	}
	r.NixConfPath = filepath.Join(c.confDir(), "nix.conf")
	if data, err := os.ReadFile(r.NixConfPath); err == nil {
		r.NixConf = string(data)
	}
	return r
}

// fsMagic names the file systems whose quirks matter to np.
var fsMagic = map[int64]string{
	unix.EXT4_SUPER_MAGIC: "ext4", unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs",
	unix.TMPFS_MAGIC: "tmpfs", unix.NFS_SUPER_MAGIC: "nfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.FUSE_SUPER_MAGIC: "fuse", 0x2fc12fc1: "zfs", 0x0bd00bd0: "lustre", 0x47504653: "gpfs",
	unix.CIFS_SUPER_MAGIC: "cifs", unix.SMB2_SUPER_MAGIC: "smb2",
}

// networkFS names the network file systems: slow, and without the shared
// memory SQLite's WAL needs.
var networkFS = map[string]bool{"nfs": true, "lustre": true, "gpfs": true, "cifs": true, "smb2": true}

// fsType names the file system holding dir.
func fsType(dir string) (string, unix.Statfs_t, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown", st, err
	}
	name, ok := fsMagic[int64(st.Type)]
	if !ok {
		name = fmt.Sprintf("0x%x", st.Type)
	}
	return name, st, nil
}

// onNetworkFS reports whether dir (or its nearest existing parent) lives on
// a network file system.
func onNetworkFS(dir string) bool {
	name, _, _ := fsType(resolveExisting(dir))
	return networkFS[name]
}

// nearestExisting is dir or its nearest parent that exists.
func nearestExisting(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// fsReport names the file system holding dir and what about it matters;
// exists says whether the data dir exists already.
func fsReport(dir string, exists bool) (string, []string) {
	name, st, err := fsType(dir)
	if err != nil {
		return name, []string{fmt.Sprintf("cannot inspect %s: %v", dir, err)}
	}
	var warn []string
	// noexec is refused by checkDataDir once installed and by the
	// preflight before, as is a read-only data dir not installed yet:
	// one line says each.
	if st.Flags&unix.ST_RDONLY != 0 && exists {
		warn = append(warn, fmt.Sprintf("%s is read-only; set NP_LOCATION to a writable directory", dir))
	}
	if networkFS[name] {
		warn = append(warn, fmt.Sprintf("%s is on %s: Nix works there (np turns SQLite's WAL off) but slowly; a local NP_LOCATION is faster", dir, name))
	}
	return name, warn
}

// lockProbe takes and drops a write lock on a scratch file in dir. Nix
// locks its database (SQLite's fcntl locks) and each store path it builds
// (flock); an NFS mount whose lock manager cannot be reached (NFSv3
// without rpc.statd or the server's lockd) answers ENOLCK to both, and
// every install and build fails. Other errors (a read-only or foreign
// dir) are reported elsewhere.
func lockProbe(dir string) error {
	f, err := os.CreateTemp(dir, ".np-lock-probe-")
	if err != nil {
		return nil
	}
	defer os.Remove(f.Name())
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); errors.Is(err, unix.ENOLCK) {
		return fmt.Errorf("%s gives no file locks (%v), which Nix needs: ask the admin to fix NFS locking (lockd, rpc.statd) or set NP_LOCATION to a local disk", dir, err)
	}
	return nil
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func printReport(r *doctorReport) {
	fmt.Printf("np %s, nix %s, payload %s\n", r.NpVersion, r.NixVersion, r.Payload)
	fmt.Printf("data dir:   %s (%s)\n", r.DataDir, r.FSType)
	state := "not installed yet (the first command installs)"
	if r.Installed {
		state = "installed"
	}
	if r.Damaged {
		state = "unusable: see the warnings below"
	}
	fmt.Printf("install:    %s\n", state)
	for _, w := range r.Warnings {
		fmt.Printf("warning:    %s\n", w)
	}
	fmt.Println("runtimes:")
	for _, rt := range r.Runtimes {
		mark := "no "
		if rt.Available {
			mark = "yes"
		}
		fmt.Printf("  %-7s %s  %s\n", rt.Name, mark, rt.Detail)
		if rt.BuildSandbox != "" {
			fmt.Printf("          Nix build sandbox: %s\n", rt.BuildSandbox)
		}
	}
	auto := string(r.Auto)
	if auto == "" {
		auto = "none"
	}
	uses := string(r.Uses)
	if uses == "" {
		uses = "none"
	}
	if r.Uses != r.Auto {
		fmt.Printf("np uses:    %s (NP_RUNTIME=%s)\n", uses, os.Getenv("NP_RUNTIME"))
	}
	fmt.Printf("auto picks: %s (%s)\n", auto, r.AutoReason)
	fmt.Printf("CA bundle:  %s\n", r.CABundle)
	keys := make([]string, 0, len(r.Facts))
	for k := range r.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("host:")
	for _, k := range keys {
		fmt.Printf("  %s = %s\n", k, r.Facts[k])
	}
	if r.NixConf != "" {
		fmt.Printf("nix.conf (%s):\n", r.NixConfPath)
		for _, l := range strings.Split(strings.TrimRight(r.NixConf, "\n"), "\n") {
			fmt.Printf("  %s\n", l)
		}
	}
}
