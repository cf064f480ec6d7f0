package proc

import "strings"

// SetEnv returns env with every key=... replaced by one key=value at the end.
func SetEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !(strings.HasPrefix(kv, key) && len(kv) > len(key) && kv[len(key)] == '=') {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}
