package nsbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

// Diagnosis explains why user namespaces are unavailable.
type Diagnosis struct {
	// Cause is a short machine word: "max_user_namespaces",
	// "unprivileged_userns_clone", "apparmor", "seccomp",
	// "no_kernel_support", "chroot", "unknown", or "" when the sandbox works.
	Cause string
	// Detail is one actionable line for the user.
	Detail string
	// Facts is what was read, by name (sysctl names where they are sysctls);
	// "absent" when the file does not exist.
	Facts map[string]string
}

// Diagnose explains probeErr, the error of Probe or Run (nil when the
// sandbox works), from the host's settings. It only reads small files.
func Diagnose(probeErr error) Diagnosis {
	f := readFacts()
	cause, detail := classify(f, probeErr)
	return Diagnosis{Cause: cause, Detail: detail, Facts: f.asMap()}
}

// facts are the host settings that decide whether a user namespace can be
// created. Strings hold a file's trimmed content, "" when it is absent.
type facts struct {
	Kernel           string // uname -r
	UserNS           bool   // /proc/self/ns/user exists (CONFIG_USER_NS)
	MaxUserNS        string // user.max_user_namespaces
	UnprivClone      string // kernel.unprivileged_userns_clone (Debian, older Ubuntu)
	AppArmorRestrict string // kernel.apparmor_restrict_unprivileged_userns (Ubuntu >= 23.10)
	Seccomp          string // "Seccomp:" of /proc/self/status: 0 none, 1 strict, 2 filter
	Container        string // "docker", "podman" or ""
	PtraceScope      string // kernel.yama.ptrace_scope
	Chroot           bool   // no mount is visible at "/" (the root is a plain directory)
}

func readFacts() facts {
	f := facts{
		UserNS:           exists("/proc/self/ns/user"),
		MaxUserNS:        readTrimmed("/proc/sys/user/max_user_namespaces"),
		UnprivClone:      readTrimmed("/proc/sys/kernel/unprivileged_userns_clone"),
		AppArmorRestrict: readTrimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
		Seccomp:          statusField("Seccomp"),
		PtraceScope:      readTrimmed("/proc/sys/kernel/yama/ptrace_scope"),
		Chroot:           chrooted(),
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		f.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	switch {
	case exists("/.dockerenv"):
		f.Container = "docker"
	case exists("/run/.containerenv"):
		f.Container = "podman"
	}
	return f
}

func (f facts) asMap() map[string]string {
	container := f.Container
	if container == "" {
		container = "no"
	}
	return map[string]string{
		"kernel":                                       orAbsent(f.Kernel),
		"user_namespaces":                              strconv.FormatBool(f.UserNS),
		"user.max_user_namespaces":                     orAbsent(f.MaxUserNS),
		"kernel.unprivileged_userns_clone":             orAbsent(f.UnprivClone),
		"kernel.apparmor_restrict_unprivileged_userns": orAbsent(f.AppArmorRestrict),
		"seccomp":                                      orAbsent(f.Seccomp),
		"in_container":                                 container,
		"kernel.yama.ptrace_scope":                     orAbsent(f.PtraceScope),
		"chroot":                                       strconv.FormatBool(f.Chroot),
	}
}

// classify is the pure heart of Diagnose: which cause explains err, given f.
func classify(f facts, err error) (cause, detail string) {
	if err == nil {
		return "", "user namespaces are available"
	}
	var errno syscall.Errno
	errors.As(err, &errno)
	var setupErr *launch.SetupError
	atClone := errors.As(err, &setupErr) && setupErr.Step == stepCreate
	denied := errno == unix.EPERM || errno == unix.EACCES

	switch {
	case !f.UserNS:
		return "no_kernel_support", fmt.Sprintf("kernel %s is built without user namespaces (CONFIG_USER_NS)", f.Kernel)
	case atClone && f.MaxUserNS == "0" && (errno == unix.EINVAL || errno == unix.ENOSPC || errno == unix.EUSERS):
		// A limit of 0 refuses every user namespace: with ENOSPC upstream,
		// with EINVAL on RHEL 7's kernel (3.10.0-1160), whose other parts
		// np's sandbox works with once the limit is raised. The kernel's age is no cause then.
		return "max_user_namespaces", "user.max_user_namespaces is 0 (CentOS/RHEL 7 default); ask an admin: sysctl -w user.max_user_namespaces=15000"
	case atClone && errno == unix.EINVAL:
		return "no_kernel_support", fmt.Sprintf("kernel %s refuses to create user namespaces (EINVAL)", f.Kernel)
	case atClone && (errno == unix.ENOSPC || errno == unix.EUSERS):
		return "max_user_namespaces", fmt.Sprintf("the user namespace limit is reached (user.max_user_namespaces is %s, nesting stops at 32 levels); ask an admin: sysctl -w user.max_user_namespaces=15000", orAbsent(f.MaxUserNS))
	case atClone && denied && f.Chroot:
		return "chroot", "np runs inside a chroot, where the kernel refuses to create user namespaces; run np outside the chroot"
	case atClone && denied && f.UnprivClone == "0":
		return "unprivileged_userns_clone", "kernel.unprivileged_userns_clone is 0; ask an admin: sysctl -w kernel.unprivileged_userns_clone=1"
	case denied && f.Seccomp == "2":
		where := "this process"
		if f.Container != "" {
			where = "the " + f.Container + " container (its default seccomp profile)"
		}
		return "seccomp", fmt.Sprintf("a seccomp filter on %s forbids creating user namespaces; run the container with --security-opt seccomp=unconfined (or a profile allowing clone with CLONE_NEWUSER)", where)
	case denied && f.AppArmorRestrict == "1":
		return "apparmor", "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10+); ask an admin for an AppArmor profile for np allowing 'userns,', or: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
	}
	return "unknown", "no known cause explains this; please report it with the output of `np doctor`"
}

func orAbsent(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// statusField returns the value of "name:" in /proc/self/status.
func statusField(name string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// chrooted reports whether this process's root is not a mount point: then
// /proc/self/mountinfo, which shows mount points relative to our root,
// lists none at "/" (those outside the root are left out). A chroot into a
// mount point is not detected.
func chrooted() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for s.Scan() {
		// Field 5 is the mount point.
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && fields[4] == "/" {
			return false
		}
	}
	return s.Err() == nil
}
