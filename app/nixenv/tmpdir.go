package nixenv

import (
	"os"

	"github.com/sirupsen/logrus"
)

// withUsableTmpdir drops TMPDIR from env when it names no directory, for
// np's own install steps: Nix would fail to create its build directory
// there, and the first run would record a failed probe. Without TMPDIR,
// Nix uses /tmp. The user's own programs get TMPDIR as it is.
func withUsableTmpdir(env []string) []string {
	dir, ok := "", false
	for _, kv := range env {
		if len(kv) > 7 && kv[:7] == "TMPDIR=" {
			dir, ok = kv[7:], true
		}
	}
	if !ok {
		return env
	}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return env
	}
	logrus.Debugf("TMPDIR=%s is not a directory: np's install steps use /tmp", dir)
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) < 7 || kv[:7] != "TMPDIR=" {
			out = append(out, kv)
		}
	}
	return out
}
