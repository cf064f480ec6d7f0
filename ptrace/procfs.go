package ptrace

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Numbers and /proc: the small readers both paths and the host-call
// probes share (a thread's status fields, its namespace, decimal text
// without allocations).

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// itoa is strconv.Itoa without the allocation of its error paths.
func itoa(n int) string {
	if n < 0 {
		return "-" + string(appendInt(nil, -n))
	}
	return string(appendInt(nil, n))
}

func atoi(s string) int {
	n := 0
	if s == "" {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// nsID names a namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

func nsOf(path string) (nsID, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return nsID{}, false
	}
	return nsID{st.Dev, st.Ino}, true
}

// tgidOf returns tid's thread group (pidfd_open wants a process before
// Linux 6.9); tid itself when /proc does not say.
func tgidOf(tid int) int {
	if v, ok := statusField(tid, "Tgid", 10); ok {
		return v
	}
	return tid
}

// statusField reads a number from /proc/<tid>/status.
func statusField(tid int, name string, base int) (int, bool) {
	b, err := os.ReadFile("/proc/" + itoa(tid) + "/status")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.Index(s, "\n"+name+":\t")
	if i < 0 {
		return 0, false
	}
	line := s[i+len(name)+3:]
	if j := strings.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	v, err := strconv.ParseInt(strings.TrimSpace(line), base, 64)
	return int(v), err == nil
}

// umaskOf reads tid's umask (/proc/<tid>/status, Linux >= 4.7); 022,
// the usual one, where it cannot be read.
func umaskOf(tid int) int {
	if v, ok := statusField(tid, "Umask", 8); ok {
		return v
	}
	return 0o22
}
