package ptrace

import (
	"testing"
)

func TestExecOfStoreProgramsAndScripts(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		// A static binary under /nix.
		expect(t, traced(t, f.nix, ns, storeBusybox, "echo", "static"), "static\n")
		expect(t, traced(t, f.nix, ns, storeBusybox, "readlink", "/proc/self/exe"), storeBusybox+"\n")
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
