package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"np/extract"
	"np/nsbox"
)

// runtimeReport says whether one runtime works here and why.
type runtimeReport struct {
	Name      runtimeName `json:"name"`
	Available bool        `json:"available"`
	Cause     string      `json:"cause,omitempty"` // a word naming why not, for scripts
	Detail    string      `json:"detail"`
}

// doctorReport is everything np doctor prints.
type doctorReport struct {
	NpVersion   string            `json:"npVersion"`
	NixVersion  string            `json:"nixVersion"`
	Payload     string            `json:"payload"`
	DataDir     string            `json:"dataDir"`
	FSType      string            `json:"fsType"`
	Warnings    []string          `json:"warnings"`
	Installed   bool              `json:"installed"`
	Damaged     bool              `json:"damaged"` // np cannot run with this data dir: a repair or a fix is needed (see warnings)
	Runtimes    []runtimeReport   `json:"runtimes"`
	Auto        runtimeName       `json:"auto"`
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
	if r.Auto == "" || r.Damaged {
		return exitStatus(1), nil
	}
	return exitStatus(0), nil
}

func diagnose(c *config) *doctorReport {
	r := &doctorReport{NpVersion: version, DataDir: c.DataDir, NixVersion: "unknown", Payload: "none"}
	r.FSType, r.Warnings = fsReport(c.Location)

	var m *extract.Manifest
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
		p.Close()
	}

	native, nativeWhy := nativeUsable()
	r.Runtimes = append(r.Runtimes, runtimeReport{Name: runtimeNative, Available: native, Detail: nativeWhy})

	probeErr := nsbox.Probe()
	d := nsbox.Diagnose(probeErr)
	r.Facts = d.Facts
	ns := runtimeReport{Name: runtimeNS, Available: probeErr == nil, Detail: "user and mount namespaces can be created and set up"}
	if probeErr != nil {
		ns.Cause, ns.Detail = d.Cause, fmt.Sprintf("%v: %s", probeErr, d.Detail)
	}
	r.Runtimes = append(r.Runtimes, ns)
	r.Runtimes = append(r.Runtimes, runtimeReport{Name: runtimePtrace, Cause: "not_built", Detail: errPtraceMissing.Error()})

	switch {
	case native:
		r.Auto, r.AutoReason = runtimeNative, nativeWhy
	case probeErr == nil:
		r.Auto, r.AutoReason = runtimeNS, "the host has no usable /nix and user namespaces work"
	default:
		r.AutoReason = "no runtime works here: " + ns.Detail
	}
	if c.Runtime != runtimeAuto {
		r.AutoReason += fmt.Sprintf(" (but NP_RUNTIME=%s overrides auto)", c.Runtime)
	}

	if m != nil {
		r.CABundle = caBundle(m)
	} else {
		r.CABundle = "(decided after install)"
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

func fsReport(dir string) (string, []string) {
	name, st, err := fsType(dir)
	if err != nil {
		return name, []string{fmt.Sprintf("cannot inspect %s: %v", dir, err)}
	}
	var warn []string
	if st.Flags&unix.ST_NOEXEC != 0 {
		warn = append(warn, fmt.Sprintf("%s is mounted noexec: programs from the store cannot run; set NP_LOCATION to a directory on another file system", dir))
	}
	if st.Flags&unix.ST_RDONLY != 0 {
		warn = append(warn, fmt.Sprintf("%s is read-only; set NP_LOCATION to a writable directory", dir))
	}
	if networkFS[name] {
		warn = append(warn, fmt.Sprintf("%s is on %s: Nix works there but slowly, and SQLite locking may misbehave; a local NP_LOCATION is faster", dir, name))
	}
	return name, warn
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
	}
	auto := string(r.Auto)
	if auto == "" {
		auto = "none"
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
