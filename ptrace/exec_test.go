package ptrace

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

//np:kernel-set smoke
func TestExecOfStoreProgramsAndScripts(t *testing.T) {
	f := getFixture(t)
	// A program started through a symlink: /proc/self/exe names the file,
	// as natively, not the link (named readlink: busybox runs the applet
	// its link is named after).
	if err := os.MkdirAll(f.nix+"/bblink", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(storeBusybox, f.nix+"/bblink/readlink"); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	modes(t, func(t *testing.T, ns bool) {
		// A static binary under /nix.
		expect(t, traced(t, f.nix, ns, storeBusybox, "echo", "static"), "static\n")
		expect(t, traced(t, f.nix, ns, storeBusybox, "readlink", "/proc/self/exe"), storeBusybox+"\n")
		expect(t, traced(t, f.nix, ns, "/nix/bblink/readlink", "/proc/self/exe"), storeBusybox+"\n")
		expect(t, traced(t, f.nix, ns, storeOps, "fdlink", "/proc/self/exe"), storeOps+"\n")
		// PT_INTERP under /nix (natively ENOENT); argv[0] as given.
		expect(t, traced(t, f.nix, ns, storeOps, "argv0"), storeOps+"\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", storeOps, "custom-name", "argv0"), "custom-name\n")
		expect(t, traced(t, f.nix, ns, storeOps, "exe"), storeOps+"\n")
		expect(t, traced(t, f.nix, ns, storeOps, "reexec"), "child ok\n")
		// Shebangs, nested, with #!/nix/... interpreters.
		expect(t, traced(t, f.nix, ns, "/nix/store/pkg/bin/script", "a", "b"), "script /nix/store/pkg/bin/script a b\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", "/nix/store/pkg/bin/nested", "nested", "x"),
			"script /nix/store/pkg/bin/script /nix/store/pkg/bin/nested x\n")
		// Errors as natively.
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", "/nix/store/pkg/bin/noexec", "x"), "EACCES\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", "/nix/store/pkg/bin", "x"), "EACCES\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", "/nix/store/pkg/bin/garbage", "x"), "ENOEXEC\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "exec", "/nix/store/pkg/bin/missing", "x"), "ENOENT\n")
		// fexecve, vfork, posix_spawn, exec from a thread.
		expect(t, traced(t, f.nix, ns, f.hostOps, "fexecve", storeOps, "fexecve-child", "argv0"), "fexecve-child\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "vfork", storeOps, "v", "argv0"), "v\nstatus 0\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "spawn", storeOps, "s", "argv0"), "s\nstatus 0\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "thread-exec", storeOps), "from-thread\n")
		expect(t, traced(t, f.nix, ns, storeOps, "thread-exec", storeOps), "from-thread\n")
	})
}

// TestChrootedProcessesAreLeftAlone: after chroot (as Nix's build sandbox
// does with pivot_root) a process sees its own tree; /nix there is the
// chroot's, not the tracer's.
func TestChrootedProcessesAreLeftAlone(t *testing.T) {
	f := getFixture(t)
	root := f.nix + "/chroot-" + strconv.Itoa(os.Getpid())
	for _, d := range []string{root + "/bin", root + "/nix"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(root)
	if err := copyFile(hostBusybox(), root+"/bin/busybox", 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(root+"/nix/hello", []byte("inside\n"), 0o644)
	guestRoot := "/nix" + strings.TrimPrefix(root, f.nix)
	modes(t, func(t *testing.T, ns bool) {
		r := traced(t, f.nix, ns, f.hostOps, "userns-chroot", guestRoot, "/bin/busybox", "cat", "/nix/hello")
		expect(t, r, "inside\n")
	})
}
