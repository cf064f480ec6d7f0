// Package doctor is np doctor's diagnosis: np's and Nix's versions, the
// data dir and its file system (network file systems, missing file
// locks), the install state and damage, each runtime with whether it works
// here and the precise cause when it does not, the runtime auto picks and
// why (from the same chooser every run uses), the CA bundle and the
// nix.conf in effect.
package doctor

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/np-portable/np/app/install"
	"github.com/np-portable/np/app/nixenv"
	"github.com/np-portable/np/app/runtimes"
	"github.com/np-portable/np/extract"
	"github.com/np-portable/np/internal/config"
	"github.com/np-portable/np/internal/entropy"
	"github.com/np-portable/np/nsbox"
	"github.com/np-portable/np/ptrace"
)

// RuntimeReport says whether one runtime works here and why.
type RuntimeReport struct {
	Name      config.RuntimeName `json:"name"`
	Available bool               `json:"available"`
	Cause     string             `json:"cause,omitempty"` // a word naming why not, for scripts
	Detail    string             `json:"detail"`
	// BuildSandbox says whether Nix's build sandbox is on in this runtime.
	BuildSandbox string `json:"buildSandbox,omitempty"`
}

// availableDetail says what a working runtime does.
var availableDetail = map[config.RuntimeName]string{
	config.Native: "/nix/store exists and is writable by this user",
	config.NS:     "user and mount namespaces can be created and set up",
	config.Ptrace: "this process may trace its children",
}

// sandboxOffMeans is what builds are like without Nix's build sandbox. The
// sandbox gives a builder only its declared inputs and np's busybox as
// /bin/sh (with its applets: mkdir works with PATH unset); without it the
// builder sees the whole host.
const sandboxOffMeans = "builds see the host's files and run the host's /bin/sh, not np's busybox, with Nix's PATH=/path-not-set: a builder must set PATH or name its tools by store path, and a dependency it did not declare goes unnoticed"

// sandboxState is what the last build-sandbox probe found in a runtime.
func sandboxState(c *config.Config, name config.RuntimeName) string {
	data, err := os.ReadFile(c.DataDir.SandboxRecord(name))
	if err != nil {
		return "not probed yet (the first run in this runtime probes it)"
	}
	ok, why, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	if ok == "true" {
		return "on"
	}
	return "off: " + why + "; " + sandboxOffMeans
}

// Report is everything np doctor prints.
type Report struct {
	NpVersion  string          `json:"npVersion"`
	NixVersion string          `json:"nixVersion"`
	Payload    string          `json:"payload"`
	DataDir    string          `json:"dataDir"`
	FSType     string          `json:"fsType"`
	Warnings   []string        `json:"warnings"`
	Installed  bool            `json:"installed"`
	Damaged    bool            `json:"damaged"` // np cannot run with this data dir: a repair or a fix is needed (see warnings)
	Runtimes   []RuntimeReport `json:"runtimes"`
	// Uses is the runtime np's commands use here: NP_RUNTIME's when it is
	// set, else auto's pick; "" when that runtime does not work here.
	Uses        config.RuntimeName `json:"uses"`
	Auto        config.RuntimeName `json:"auto"` // the runtime NP_RUNTIME=auto picks
	AutoReason  string             `json:"autoReason"`
	CABundle    string             `json:"caBundle"`
	NixConfPath string             `json:"nixConfPath"`
	NixConf     string             `json:"nixConf"`
	Facts       map[string]string  `json:"facts"`
}

// Diagnose answers np doctor's questions for c; version is np's own.
func Diagnose(c *config.Config, version string) *Report {
	r := &Report{NpVersion: version, DataDir: string(c.DataDir), NixVersion: "unknown", Payload: "none"}
	// A data dir that does not exist yet is normal before the first run:
	// its file system is that of the nearest directory that exists.
	r.FSType, r.Warnings = fsReport(config.NearestExisting(c.Location), config.DirExists(string(c.DataDir)))
	if config.NetworkFS[r.FSType] {
		if err := lockProbe(config.NearestExisting(string(c.DataDir))); err != nil {
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
		if m = install.Installed(c, p); m != nil {
			r.Installed = true
			r.NixVersion = m.NixVersion
		}
		if err := ownStoreDamage(c, p); err != nil {
			r.Damaged = true
			r.Warnings = append(r.Warnings, err.Error())
		}
		if err := c.CheckDataDir(); err != nil { // np refuses to run with it
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
	auto.Runtime = config.Auto
	ch, err := runtimes.New(&auto)
	if err != nil { // cannot happen for auto
		r.AutoReason = err.Error()
		return r
	}
	picked, autoErr := ch.Settle()
	r.Facts = map[string]string{}
	for _, rt := range runtimes.All(c) {
		rep := RuntimeReport{Name: rt.Name(), Available: true, Detail: availableDetail[rt.Name()]}
		err := rt.Check()
		if rt.Name() == config.NS {
			for k, v := range nsbox.Diagnose(err).Facts {
				r.Facts[k] = v
			}
		}
		if rt.Name() == config.Ptrace {
			for k, v := range ptrace.Diagnose(err).Facts {
				r.Facts[k] = v
			}
		}
		if err != nil {
			rep.Available = false
			rep.Cause, rep.Detail = rt.Explain(err)
		} else if rt.BuildSandbox() {
			rep.BuildSandbox = sandboxState(c, rt.Name())
		} else {
			rep.BuildSandbox = "off: this runtime cannot have one; " + sandboxOffMeans
		}
		r.Runtimes = append(r.Runtimes, rep)
	}
	if autoErr != nil {
		r.AutoReason = autoErr.Error()
	} else {
		r.Auto = picked.Name()
		r.AutoReason = ch.Why
		if preflight != nil {
			// The first command would fail: say so now, not after it.
			if err := preflight(picked.NixDir()); err != nil {
				r.Damaged = true
				r.Warnings = append(r.Warnings, err.Error())
			}
		}
		if len(ch.Refused) > 0 {
			_, detail := ch.Refused[0].Runtime.Explain(ch.Refused[0].Err)
			r.AutoReason = fmt.Sprintf("%s is refused here: %s", ch.Refused[0].Runtime.Name(), detail)
		}
	}
	r.Uses = r.Auto
	if c.Runtime != config.Auto {
		r.AutoReason += fmt.Sprintf(" (but NP_RUNTIME=%s overrides auto)", c.Runtime)
		r.Uses = ""
		for _, rep := range r.Runtimes {
			if rep.Name == c.Runtime && rep.Available {
				r.Uses = c.Runtime
			}
		}
	}

	if m != nil {
		r.CABundle = nixenv.CABundle(m)
	} else {
		r.CABundle = "(decided after install)"
	}
	if r.Warnings == nil {
		r.Warnings = []string{} // JSON [] rather than null
	}
	if r.Facts == nil {
		r.Facts = map[string]string{}
	}
	r.NixConfPath = c.DataDir.NixConf()
	if data, err := os.ReadFile(r.NixConfPath); err == nil {
		r.NixConf = string(data)
	}
	return r
}

// fsReport names the file system holding dir and what about it matters;
// exists says whether the data dir exists already.
func fsReport(dir string, exists bool) (string, []string) {
	name, st, err := config.FSType(dir)
	if err != nil {
		return name, []string{fmt.Sprintf("cannot inspect %s: %v", dir, err)}
	}
	var warn []string
	// noexec is refused by config.CheckDataDir once installed and by the
	// preflight before, as is a read-only data dir not installed yet:
	// one line says each.
	if st.Flags&unix.ST_RDONLY != 0 && exists {
		warn = append(warn, fmt.Sprintf("%s is read-only; set NP_LOCATION to a writable directory", dir))
	}
	if config.NetworkFS[name] {
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

// ownStoreDamage is doctor's cheap check of np's own store paths, in the
// data dir and in a host /nix used natively.
func ownStoreDamage(c *config.Config, p *extract.Payload) error {
	var errs []error
	for _, dir := range []string{c.DataDir.Nix(), "/nix"} {
		errs = append(errs, (extract.Target{NixDir: dir}).Check(p.Trailer.Fingerprint()))
	}
	return errors.Join(errs...)
}
