package nsbox

import (
	"fmt"
	"strings"
	"testing"

	"github.com/np-portable/np/internal/launch"
	"golang.org/x/sys/unix"
)

// brief prints an op as "kind source target flags", for comparing plans.
func brief(o op) string {
	s := o.Kind.String()
	if o.Source != "" {
		s += " " + o.Source
	}
	s += " " + o.Target
	if o.Kind == opMount || o.Kind == opUmount {
		if o.Kind == opUmount {
			s += " " + umountFlagString(o.Flags)
		} else {
			s += " " + mountFlagString(o.Flags)
		}
	}
	if o.SkipIfGone {
		s += " skip-if-gone"
	}
	return s
}

func briefs(ops []op) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = brief(o)
	}
	return out
}

func diffPlans(t *testing.T, got []op, want []string) {
	t.Helper()
	g := briefs(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("plan differs\ngot:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestScratchPlanPivotsIntoTmpfsOnTmp(t *testing.T) {
	diffPlans(t, scratchPlan(), []string{
		"mount / MS_REC|MS_SLAVE",
		"mount tmpfs /tmp MS_NOSUID|MS_NODEV",
		"mkdir /tmp/oldroot",
		"mkdir /tmp/newroot",
		"pivot_root /tmp /tmp/oldroot",
		"chdir /",
		"mount tmpfs /newroot MS_NOSUID|MS_NODEV",
	})
}

func TestScratchPlanNeverMakesMountsPrivate(t *testing.T) {
	for _, o := range append(scratchPlan(), initramfsFallback()...) {
		if o.Flags&unix.MS_PRIVATE != 0 && o.Kind == opMount {
			t.Errorf("%s: private propagation breaks autofs (nixpkgs PR 136433)", brief(o))
		}
	}
}

func TestFirstPivotFallsBackToMoveAndChrootOnInitramfs(t *testing.T) {
	var pivot *op
	for i, o := range scratchPlan() {
		if o.Kind == opPivotRoot {
			pivot = &scratchPlan()[i]
		}
	}
	if pivot == nil {
		t.Fatal("scratch plan has no pivot_root")
	}
	diffPlans(t, pivot.Fallback, []string{
		"mount / /tmp/oldroot MS_BIND|MS_REC",
		"umount2 /tmp/oldroot/tmp MNT_DETACH",
		"chdir /tmp",
		"mount . / MS_MOVE",
		"chroot .",
	})
}

var sampleHost = []hostEntry{
	{Name: "usr", Kind: entryDir},
	{Name: "bin", Kind: entrySymlink, Link: "usr/bin"},
	{Name: ".dockerenv", Kind: entryFile},
	{Name: "nix", Kind: entryDir},
	{Name: "proc", Kind: entryDir},
	{Name: "dev", Kind: entryDir},
	{Name: "tmp", Kind: entryDir},
}

func TestRootPlanMirrorsHostEntriesAndMountsNix(t *testing.T) {
	diffPlans(t, rootPlan(sampleHost, "/home/u/.nix-portable/nix"), []string{
		"create /newroot/.dockerenv",
		"mount /oldroot/.dockerenv /newroot/.dockerenv MS_BIND|MS_REC skip-if-gone",
		"symlink usr/bin /newroot/bin",
		"mkdir /newroot/dev",
		"mount /oldroot/dev /newroot/dev MS_BIND|MS_REC skip-if-gone",
		"mkdir /newroot/proc",
		"mount /oldroot/proc /newroot/proc MS_BIND|MS_REC skip-if-gone",
		"mkdir /newroot/tmp",
		"mount /oldroot/tmp /newroot/tmp MS_BIND|MS_REC skip-if-gone",
		"mkdir /newroot/usr",
		"mount /oldroot/usr /newroot/usr MS_BIND|MS_REC skip-if-gone",
		"mkdir /newroot/nix",
		"mount /oldroot/home/u/.nix-portable/nix /newroot/nix MS_BIND|MS_REC",
		"chdir /newroot",
		"pivot_root . .",
		"umount2 . MNT_DETACH",
		"chdir /",
		"mount / MS_REMOUNT|MS_BIND|MS_RDONLY|MS_NOSUID|MS_NODEV",
	})
}

func TestRootPlanNeverBindsTheHostNix(t *testing.T) {
	for _, o := range rootPlan(sampleHost, "/data/nix") {
		if o.Source == oldRoot+"/nix" || strings.HasPrefix(o.Source, oldRoot+"/nix/") {
			t.Errorf("host /nix is used: %s", brief(o))
		}
	}
}

func TestRootPlanBindsProcAndDevEvenWhenUnlisted(t *testing.T) {
	ops := rootPlan([]hostEntry{{Name: "usr", Kind: entryDir}}, "/n")
	got := strings.Join(briefs(ops), "\n")
	for _, want := range []string{
		"mount /oldroot/dev /newroot/dev MS_BIND|MS_REC\n",
		"mount /oldroot/proc /newroot/proc MS_BIND|MS_REC\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plan lacks %q (a missing /proc or /dev must fail, not be skipped):\n%s", want, got)
		}
	}
}

func TestEveryHostBindIsRecursive(t *testing.T) {
	for _, o := range rootPlan(sampleHost, "/n") {
		if o.Kind == opMount && o.Flags&unix.MS_BIND != 0 && o.Flags&unix.MS_REMOUNT == 0 && o.Flags&unix.MS_REC == 0 {
			t.Errorf("%s: a non-recursive bind of a tree with locked submounts is EINVAL", brief(o))
		}
	}
}

func TestRootPlanDoesNotModifyItsInput(t *testing.T) {
	in := append([]hostEntry(nil), sampleHost...)
	rootPlan(in, "/n")
	for i := range in {
		if in[i] != sampleHost[i] {
			t.Fatalf("entries reordered in place: %v", in)
		}
	}
}

func TestOpErrorNamesOperationArgumentsAndFlags(t *testing.T) {
	cases := []struct {
		err  *OpError
		want string
	}{
		{&OpError{Op: "mount", Source: "/oldroot/home", Target: "/newroot/home", Flags: unix.MS_BIND | unix.MS_REC, Errno: unix.EPERM},
			"mount /oldroot/home on /newroot/home (MS_BIND|MS_REC): operation not permitted"},
		{&OpError{Op: "mount", Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755", Errno: unix.EACCES},
			`mount tmpfs on /tmp (type tmpfs, MS_NOSUID|MS_NODEV, data "mode=0755"): permission denied`},
		{&OpError{Op: "mount", Target: "/", Flags: unix.MS_REC | unix.MS_SLAVE, Errno: unix.EINVAL},
			`mount "" on / (MS_REC|MS_SLAVE): invalid argument`},
		{&OpError{Op: "pivot_root", Source: "/tmp", Target: "/tmp/oldroot", Errno: unix.EINVAL},
			"pivot_root /tmp /tmp/oldroot: invalid argument"},
		{&OpError{Op: "umount2", Target: ".", Flags: unix.MNT_DETACH, Errno: unix.EBUSY},
			"umount2 . (MNT_DETACH): device or resource busy"},
		{&OpError{Op: "mkdir", Target: "/newroot/x", Errno: unix.EEXIST}, "mkdir /newroot/x: file exists"},
		{&OpError{Op: "mount", Source: "a", Target: "b", Flags: unix.MS_BIND | 1<<30, Errno: unix.EPERM},
			"mount a on b (MS_BIND|0x40000000): operation not permitted"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestSetupErrorReadsDoingWhatColonCause(t *testing.T) {
	err := &launch.SetupError{Step: "creating user namespace", Err: unix.EPERM}
	if got, want := err.Error(), "creating user namespace: operation not permitted"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	err = &launch.SetupError{Step: "mirroring host", Path: "/home", Err: unix.EACCES}
	if got, want := err.Error(), "mirroring host /home: permission denied"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func ExampleOpError() {
	fmt.Println(&OpError{Op: "mount", Source: "/oldroot/srv", Target: "/newroot/srv", Flags: unix.MS_BIND | unix.MS_REC, Errno: unix.ENOENT})
	// Output: mount /oldroot/srv on /newroot/srv (MS_BIND|MS_REC): no such file or directory
}
