package nsbox

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

// linux is an ordinary modern host where user namespaces work.
var linux = facts{Kernel: "6.8.0-45-generic", UserNS: true, MaxUserNS: "63329", Seccomp: "0", PtraceScope: "1"}

func with(change func(*facts)) facts {
	f := linux
	change(&f)
	return f
}

var (
	cloneErr = func(errno unix.Errno) error { return &launch.SetupError{Step: stepCreate, Err: errno} }
	mountErr = func(errno unix.Errno) error {
		return &launch.SetupError{Step: "making / a slave mount", Err: &OpError{Op: "mount", Target: "/", Errno: errno}}
	}
)

func TestClassifyNamesEachCause(t *testing.T) {
	cases := []struct {
		name   string
		facts  facts
		err    error
		cause  string
		detail string // a substring
	}{
		{"available", linux, nil, "", "available"},
		{"rhel7 default", with(func(f *facts) { f.MaxUserNS = "0"; f.Kernel = "3.10.0-1160.el7.x86_64" }),
			cloneErr(unix.ENOSPC), "max_user_namespaces", "sysctl -w user.max_user_namespaces=15000"},
		{"limit reached", linux, cloneErr(unix.ENOSPC), "max_user_namespaces", "user.max_user_namespaces is 63329"},
		{"old kernel nesting limit", linux, cloneErr(unix.EUSERS), "max_user_namespaces", "limit"},
		{"debian sysctl", with(func(f *facts) { f.UnprivClone = "0" }), cloneErr(unix.EPERM),
			"unprivileged_userns_clone", "sysctl -w kernel.unprivileged_userns_clone=1"},
		{"docker", with(func(f *facts) { f.Seccomp = "2"; f.Container = "docker" }), cloneErr(unix.EPERM),
			"seccomp", "docker container"},
		{"seccomp outside containers", with(func(f *facts) { f.Seccomp = "2" }), cloneErr(unix.EPERM), "seccomp", "seccomp=unconfined"},
		{"ubuntu 24.04", with(func(f *facts) { f.AppArmorRestrict = "1" }), mountErr(unix.EACCES),
			"apparmor", "kernel.apparmor_restrict_unprivileged_userns"},
		{"ubuntu 24.04 refusing clone", with(func(f *facts) { f.AppArmorRestrict = "1" }), cloneErr(unix.EPERM), "apparmor", "AppArmor"},
		{"no CONFIG_USER_NS", with(func(f *facts) { f.UserNS = false }), cloneErr(unix.EINVAL), "no_kernel_support", "CONFIG_USER_NS"},
		// The sandbox init is forked, never exec'd: a kernel without
		// ambient capabilities (before 4.3) is no cause of its own.
		{"before ambient caps", with(func(f *facts) { f.Kernel = "4.2.8" }), cloneErr(unix.EINVAL), "no_kernel_support", "refuses to create user namespaces"},
		// CentOS 7.9's kernel: 3.10, refusing user namespaces with EINVAL
		// while the limit is 0.
		{"centos 7.9 default", with(func(f *facts) { f.MaxUserNS = "0"; f.Kernel = "3.10.0" }),
			cloneErr(unix.EINVAL), "max_user_namespaces", "user.max_user_namespaces is 0"},
		{"centos 7.9 raised limit", with(func(f *facts) { f.Kernel = "3.10.0" }),
			cloneErr(unix.EINVAL), "no_kernel_support", "refuses to create user namespaces"},
		{"chroot", with(func(f *facts) { f.Chroot = true; f.UnprivClone = "1" }), cloneErr(unix.EPERM), "chroot", "chroot"},
		{"unexplained", linux, cloneErr(unix.EPERM), "unknown", "please report it"},
		{"lookup errors are not userns causes", linux, errors.New("boom"), "unknown", "please report it"},
	}
	for _, c := range cases {
		cause, detail := classify(c.facts, c.err)
		if cause != c.cause || !strings.Contains(detail, c.detail) {
			t.Errorf("%s: got (%q, %q), want cause %q with %q", c.name, cause, detail, c.cause, c.detail)
		}
		if strings.Contains(detail, "\n") || detail == "" {
			t.Errorf("%s: detail must be one line: %q", c.name, detail)
		}
	}
}

func TestSysctlsAreNotBlamedForLaterSteps(t *testing.T) {
	// unprivileged_userns_clone=0 makes clone fail; it cannot explain a mount failure.
	f := with(func(f *facts) { f.UnprivClone = "0" })
	if cause, _ := classify(f, mountErr(unix.EPERM)); cause == "unprivileged_userns_clone" {
		t.Errorf("a mount failure was blamed on kernel.unprivileged_userns_clone")
	}
}

func TestFactsReportWhatTheHostSays(t *testing.T) {
	m := Diagnose(nil).Facts
	if len(m) != reflect.TypeOf(facts{}).NumField() {
		t.Errorf("%d facts reported for %d read: %v", len(m), reflect.TypeOf(facts{}).NumField(), m)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			return "absent"
		}
		return strings.TrimSpace(string(b))
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	status, _ := os.ReadFile("/proc/self/status")
	seccomp := "absent"
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			seccomp = strings.TrimSpace(v)
		}
	}
	want := map[string]string{
		"kernel":                                       unix.ByteSliceToString(uts.Release[:]),
		"user.max_user_namespaces":                     read("/proc/sys/user/max_user_namespaces"),
		"kernel.unprivileged_userns_clone":             read("/proc/sys/kernel/unprivileged_userns_clone"),
		"kernel.apparmor_restrict_unprivileged_userns": read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
		"kernel.yama.ptrace_scope":                     read("/proc/sys/kernel/yama/ptrace_scope"),
		"seccomp":                                      seccomp,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("fact %s = %q, the host says %q", k, m[k], v)
		}
	}
}
