package nixenv

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/np-portable/np/internal/config"
)

// Nix needs a home directory, and takes it as Nix's getHome does: $HOME
// when it does not exist or is owned by the effective user, otherwise
// the passwd entry's. A container started with --user UID for a UID the
// image's /etc/passwd lacks, whose HOME is Docker's "/" (owned by root),
// has neither: every Nix command aborts with "cannot determine user's
// home directory". homeProblem says so before anything runs.
func homeProblem(getenv func(string) string) string {
	uid := os.Geteuid()
	home := getenv("HOME")
	if home != "" {
		var st syscall.Stat_t
		err := syscall.Stat(home, &st)
		if os.IsNotExist(err) || err == nil && int(st.Uid) == uid {
			return ""
		}
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.HomeDir != "" {
		return ""
	}
	why := "HOME is not set"
	if home != "" {
		why = fmt.Sprintf("HOME (%s) is not owned by uid %d", home, uid)
	}
	return fmt.Sprintf("Nix needs a home directory: %s and uid %d has no entry in /etc/passwd; "+
		"set HOME to a directory of your own (in a container: -e HOME=/tmp/home)", why, uid)
}

// CheckHome fails a Nix command early, before anything is installed,
// rather than let Nix abort halfway.
func CheckHome() error {
	if p := homeProblem(os.Getenv); p != "" {
		return fmt.Errorf("%s", p)
	}
	return nil
}

// InstallStepEnv is the environment of np's own install steps, which
// run Nix whatever the user's HOME: a usable TMPDIR (withUsableTmpdir) and,
// where Nix would find no home, the data dir as HOME (the steps keep
// nothing there).
func InstallStepEnv(c *config.Config, env []string) []string {
	env = withUsableTmpdir(env)
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if len(env[i]) > len(k) && env[i][:len(k)+1] == k+"=" {
				return env[i][len(k)+1:]
			}
		}
		return ""
	}
	if homeProblem(get) == "" {
		return env
	}
	logrus.Debugf("Nix would find no home directory: np's install steps use HOME=%s", c.DataDir)
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) < 5 || kv[:5] != "HOME=" {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+string(c.DataDir))
}
