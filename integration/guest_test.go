//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests check, through bin/np and in every runtime pass, what programs
// see of /nix: the cases listed at the end of ../shared/notes/ptrace.md that
// make sense at np's level. The programs are mostly the payload's static
// busybox, run from its store path, so every exec is of a /nix binary.

// storePath is the guest path (/nix/store/...) of the store path in loc
// whose name ends in suffix.
func storePath(t *testing.T, loc, suffix string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(loc, ".nix-portable", "nix", "store", "*-"+suffix))
	if len(matches) != 1 {
		t.Fatalf("want one store path *-%s in %s, found %v", suffix, loc, matches)
	}
	return "/nix/store/" + filepath.Base(matches[0])
}

// busybox is the payload's static busybox, as a guest path.
func busybox(t *testing.T) string {
	name := filepath.Base(payloadBusybox) // hash-busybox-VERSION
	return storePath(t, sharedLocation(t), name[strings.Index(name, "-")+1:]) + "/bin/busybox"
}

// scratch is a fresh directory under /nix/var for one test: its guest path
// and the host path it has in the data dir.
func scratch(t *testing.T) (guest, host string) {
	t.Helper()
	return scratchNamed(t, "np-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
}

func scratchNamed(t *testing.T, name string) (guest, host string) {
	t.Helper()
	host = filepath.Join(sharedLocation(t), ".nix-portable", "nix", "var", name)
	os.RemoveAll(host)
	if err := os.MkdirAll(host, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(host) })
	return "/nix/var/" + name, host
}

// nixFile is a file under /nix for one test to read: its guest path and
// its contents.
func nixFile(t *testing.T) (guest, content string) {
	t.Helper()
	dir, host := scratchNamed(t, "np-test-file-"+strings.ReplaceAll(t.Name(), "/", "-"))
	content = "a file under /nix for " + t.Name() + "\n"
	if err := os.WriteFile(filepath.Join(host, "data"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir + "/data", content
}

// sh runs script with the store's busybox sh inside np.
func sh(t *testing.T, o runOpts, script string, args ...string) result {
	t.Helper()
	return np(t, o, append([]string{"run", busybox(t), "sh", "-c", script, "sh"}, args...)...)
}

func TestNixFilesReadAndStatAsTheDataDirs(t *testing.T) {
	loc := sharedLocation(t)
	host := filepath.Join(loc, ".nix-portable", "nix")
	file, want := nixFile(t)
	if got := must(t, sh(t, runOpts{}, `cat "$1"`, file)); got != want {
		t.Fatalf("cat of a /nix file inside np differs from the data dir's file")
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(host, "store"), &st); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(must(t, sh(t, runOpts{}, "stat -c %i /nix/store"))); got != strconv.FormatUint(st.Ino, 10) {
		t.Fatalf("stat -c %%i /nix/store = %s, the data dir's store has inode %d", got, st.Ino)
	}
	hostFile, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if got := must(t, sh(t, runOpts{}, "cat /etc/passwd")); got != string(hostFile) {
		t.Fatal("a host file reads differently inside np")
	}
}

func TestWorkingDirectoryInsideNixIsTheGuestPath(t *testing.T) {
	out := must(t, sh(t, runOpts{}, `cd /nix/store && pwd -P && readlink /proc/self/cwd && cd /nix/var && pwd`))
	if out != "/nix/store\n/nix/store\n/nix/var\n" {
		t.Fatalf("pwd -P, readlink /proc/self/cwd and pwd printed %q", out)
	}
	root := must(t, sh(t, runOpts{}, "ls -a /"))
	if up := must(t, sh(t, runOpts{}, "cd /nix && ls -a ..")); up != root || !containsLine(up, "nix") {
		t.Fatalf("cd /nix && ls .. lists\n%s\nls / lists\n%s", up, root)
	}
}

func TestFileOperationsUnderNixLandInTheDataDir(t *testing.T) {
	guest, host := scratch(t)
	script := `set -e; cd "$1"
mkdir d; touch d/a; mv d/a d/b; ln d/b d/hard; ln -s "$1/d/b" d/sym; ln -s b d/rel
chmod 600 d/b; echo data > d/b; rm d/hard; touch -h -d @1000000000 d/sym; echo done`
	if out := must(t, sh(t, runOpts{}, script, guest)); out != "done\n" {
		t.Fatalf("script printed %q", out)
	}
	st, err := os.Stat(filepath.Join(host, "d", "b"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("d/b in the data dir: %v %v", st, err)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "d", "b")); string(data) != "data\n" {
		t.Fatalf("d/b holds %q", data)
	}
	if _, err := os.Lstat(filepath.Join(host, "d", "hard")); !os.IsNotExist(err) {
		t.Fatalf("rm d/hard left it in the data dir: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(host, "d", "a")); !os.IsNotExist(err) {
		t.Fatalf("mv d/a left it in the data dir: %v", err)
	}
	// A symlink made inside holds exactly the text it was given: /nix/...
	if target, err := os.Readlink(filepath.Join(host, "d", "sym")); err != nil || target != guest+"/d/b" {
		t.Fatalf("symlink text in the data dir: %q (%v), want %q", target, err, guest+"/d/b")
	}
	if target, _ := os.Readlink(filepath.Join(host, "d", "rel")); target != "b" {
		t.Fatalf("relative symlink text %q", target)
	}
	lst, err := os.Lstat(filepath.Join(host, "d", "sym"))
	if err != nil || lst.ModTime().Unix() != 1000000000 {
		t.Fatalf("touch -h did not set the symlink's own time: %v %v", lst, err)
	}
	if st, _ := os.Stat(filepath.Join(host, "d", "b")); st.ModTime().Unix() == 1000000000 {
		t.Fatal("touch -h on the symlink changed its target")
	}
	// Reading through the link works inside, where /nix exists.
	if got := must(t, sh(t, runOpts{}, `cat "$1/d/sym" "$1/d/rel"; readlink "$1/d/sym"`, guest)); got != "data\ndata\n"+guest+"/d/b\n" {
		t.Fatalf("through the links inside np: %q", got)
	}
}

func TestSymlinksAndPathErrors(t *testing.T) {
	guest, host := scratch(t)
	os.Symlink("loop", filepath.Join(host, "loop"))
	os.WriteFile(filepath.Join(host, "file"), []byte("x\n"), 0o644)
	// A host symlink whose target is under /nix: natively ENOENT, inside
	// np it reaches the data dir.
	hostLink := filepath.Join(t.TempDir(), "into-nix")
	if err := os.Symlink(guest+"/file", hostLink); err != nil {
		t.Fatal(err)
	}
	if got := must(t, sh(t, runOpts{}, `cat "$1"`, hostLink)); got != "x\n" {
		t.Fatalf("cat through a host symlink into /nix: %q", got)
	}
	long := "/nix/var/" + strings.Repeat("a", 300)
	deep := "/nix" + strings.Repeat("/abcdefgh", 500)
	cases := []struct{ path, errText string }{
		{guest + "/loop", "symbolic links"}, // ELOOP: "Too many levels of symbolic links"
		{guest + "/file/", "Not a directory"},
		{guest + "/file/x", "Not a directory"},
		{guest + "/missing", "No such file or directory"},
		{long, "too long"}, // ENAMETOOLONG: one component over NAME_MAX
		{deep, "too long"}, // ENAMETOOLONG: the whole path over PATH_MAX
	}
	for _, c := range cases {
		r := sh(t, runOpts{}, `cat "$1"`, c.path)
		if r.code == 0 || !strings.Contains(r.stderr, c.errText) {
			t.Errorf("cat %.60s: exit %d stderr %q; want an error saying %q", c.path, r.code, r.stderr, c.errText)
		}
	}
}

// TestBadPathArgumentsGiveNativeErrors: openat with a dirfd that is no
// directory, an empty path and a NULL path fail as they do natively.
func TestBadPathArgumentsGiveNativeErrors(t *testing.T) {
	script := `my $nr = $ARGV[0]; my @r;
for my $call ([0, "x"], [-100, ""], [-100, 0]) {
  push @r, syscall($nr, $call->[0], $call->[1], 0) == -1 ? "$!" : "opened";
}
print join("\n", @r), "\n";`
	r := np(t, runOpts{stdin: []byte{}}, "run", "perl", "-e", script, strconv.Itoa(unix.SYS_OPENAT))
	if got, want := must(t, r), "Not a directory\nNo such file or directory\nBad address\n"; got != want {
		t.Fatalf("openat(stdin, \"x\"), openat(AT_FDCWD, \"\"), openat(AT_FDCWD, NULL) gave %q, want %q", got, want)
	}
}

func TestProcLinksShowGuestPaths(t *testing.T) {
	bb := busybox(t)
	file, _ := nixFile(t)
	out := must(t, sh(t, runOpts{}, `exec 3<"$1"; readlink /proc/$$/fd/3; echo | readlink /proc/self/fd/0; readlink /proc/self/exe`, file))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != file || !strings.HasPrefix(lines[1], "pipe:[") || lines[2] != bb {
		t.Fatalf("readlink of /proc links printed %q; want the guest file, a pipe, %s", out, bb)
	}
}

func TestBashFileTestsOnNixPaths(t *testing.T) {
	file, _ := nixFile(t)
	script := `[[ -r $1 && -f $1 && -x /nix/store && -d /nix/store && -w /nix/var && ! -e /nix/var/no-such-file ]] && echo yes`
	if got := must(t, np(t, runOpts{}, "run", "bash", "-c", script, "bash", file)); got != "yes\n" {
		t.Fatalf("bash [[ ]] tests on /nix paths printed %q", got)
	}
}

func TestExecOfStorePrograms(t *testing.T) {
	loc := sharedLocation(t)
	nix := storePath(t, loc, "nix-"+nixVersion) + "/bin"
	// A static binary under /nix.
	if got := must(t, np(t, runOpts{}, "run", busybox(t), "echo", "static-ok")); got != "static-ok\n" {
		t.Fatalf("static busybox printed %q", got)
	}
	// A dynamic one whose interpreter (PT_INTERP) is under /nix too.
	if got := strings.TrimSpace(must(t, np(t, runOpts{}, "run", nix+"/nix-store", "--version"))); got != "nix-store (Nix) "+nixVersion {
		t.Fatalf("%s/nix-store --version printed %q", nix, got)
	}
	// argv[0] reaches the program: Nix picks its personality by it.
	if got := strings.TrimSpace(must(t, np(t, runOpts{}, "run", "bash", "-c", `exec -a nix-instantiate "$1" --version`, "bash", nix+"/nix"))); got != "nix-instantiate (Nix) "+nixVersion {
		t.Fatalf("exec -a nix-instantiate .../nix --version printed %q", got)
	}
	// A program under /nix that re-executes itself through /proc/self/exe.
	guest, host := scratch(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bash)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "bash"), data, 0o755)
	out := must(t, np(t, runOpts{}, "run", guest+"/bash", "-c", `readlink /proc/$$/exe; exec -a bash /proc/self/exe -c 'echo re-exec-ok; readlink /proc/$$/exe; :'`))
	if want := guest + "/bash\nre-exec-ok\n" + guest + "/bash\n"; out != want {
		t.Fatalf("re-exec through /proc/self/exe printed %q, want %q", out, want)
	}
}

func TestShebangScripts(t *testing.T) {
	guest, host := scratch(t)
	bbSh := filepath.Dir(busybox(t)) + "/sh"
	write := func(name, text string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(host, name), []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("one", "#!"+bbSh+"\necho \"one: $*\"\n", 0o755)
	write("two", "#!"+guest+"/one from-two\n", 0o755) // nested: a script as interpreter
	write("noexec", "#!"+bbSh+"\necho never\n", 0o644)
	write("garbage", "\x7fELF-not-really\x00\x01\x02", 0o755)
	os.Mkdir(filepath.Join(host, "dir"), 0o755)

	if got := must(t, np(t, runOpts{}, "run", guest+"/one", "a b")); got != "one: a b\n" {
		t.Fatalf("#!/nix/... script printed %q", got)
	}
	if got := must(t, np(t, runOpts{}, "run", guest+"/two", "x")); got != "one: from-two "+guest+"/two x\n" {
		t.Fatalf("nested shebang printed %q", got)
	}
	if r := np(t, runOpts{}, "run", guest+"/noexec"); r.code != 126 || !strings.HasPrefix(r.stderr, "np: ") {
		t.Fatalf("np run of a non-executable script: exit %d stderr %q; want 126", r.code, r.stderr)
	}
	// From a program inside, a raw execve (libc's execvp would hand a
	// non-ELF file to /bin/sh): the errors the kernel gives natively.
	for name, want := range map[string]string{"noexec": "Permission denied", "dir": "Permission denied", "garbage": "Exec format error"} {
		r := np(t, runOpts{}, "run", "perl", "-e", `syscall($ARGV[0], $ARGV[1], 0, 0); die "$!\n"`, strconv.Itoa(unix.SYS_EXECVE), guest+"/"+name)
		if r.code == 0 || strings.TrimSpace(r.stderr) != want {
			t.Errorf("exec of %s from perl: exit %d stderr %q; want %q", name, r.code, r.stderr, want)
		}
	}
}

func TestUnixSocketUnderNix(t *testing.T) {
	// perl binds, reports getsockname, connects to it by its /nix name and
	// passes a line through.
	const script = `use Socket; my $p = $ARGV[0];
socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
bind($s, pack_sockaddr_un($p)) or die "bind: $!\n"; listen($s, 1) or die "listen: $!\n";
print unpack_sockaddr_un(getsockname($s)), "\n";
socket(my $c, AF_UNIX, SOCK_STREAM, 0) or die; connect($c, pack_sockaddr_un($p)) or die "connect: $!\n";
accept(my $a, $s) or die "accept: $!\n"; syswrite($c, "ping\n"); sysread($a, my $b, 5); print $b;`
	check := func(t *testing.T, loc string) {
		host := filepath.Join(loc, ".nix-portable", "nix", "var", "np-test-sock")
		os.RemoveAll(host)
		os.MkdirAll(host, 0o755)
		defer os.RemoveAll(host)
		out := must(t, np(t, runOpts{loc: loc}, "run", "perl", "-e", script, "/nix/var/np-test-sock/x.sock"))
		if out != "/nix/var/np-test-sock/x.sock\nping\n" {
			t.Fatalf("perl inside np printed %q", out)
		}
		st, err := os.Lstat(filepath.Join(host, "x.sock"))
		if err != nil || st.Mode()&os.ModeSocket == 0 {
			t.Fatalf("no socket in the data dir: %v %v", st, err)
		}
	}
	t.Run("short", func(t *testing.T) { check(t, sharedLocation(t)) })
	// A data dir whose socket paths exceed sun_path's 108 bytes on the host.
	t.Run("long data dir", func(t *testing.T) {
		loc := filepath.Join(newLocation(t), strings.Repeat("long-directory-name-", 5))
		os.MkdirAll(loc, 0o755)
		check(t, loc)
	})
}

func TestKillNineInsideIsDeathBySIGKILL(t *testing.T) {
	r := sh(t, runOpts{}, "kill -9 $$")
	if r.signal != syscall.SIGKILL {
		t.Fatalf("caller saw exit %d signal %v, want death by SIGKILL", r.code, r.signal)
	}
	if r := sh(t, runOpts{}, "exit 42"); r.code != 42 {
		t.Fatalf("exit 42 gave exit %d signal %v", r.code, r.signal)
	}
}

func TestOrphansKeepSeeingNix(t *testing.T) {
	guest, host := scratch(t)
	file, want := nixFile(t)
	// The middle shell exits at once; its child, an orphan, works under
	// /nix while np's program still runs.
	script := `sh -c '(sleep 0.3; cat "$2" > "$1/orphan-out") &' sh "$1" "$2"; sleep 1.5`
	must(t, sh(t, runOpts{}, script, guest, file))
	if got, err := os.ReadFile(filepath.Join(host, "orphan-out")); err != nil || string(got) != want {
		t.Fatalf("the orphan's copy of a /nix file: %q (%v)", got, err)
	}
}

func TestForkStorm(t *testing.T) {
	file, _ := nixFile(t)
	script := `i=0; while [ $i -lt 200 ]; do cat "$1" > /dev/null & i=$((i+1)); done; wait; echo storm-done`
	if got := must(t, sh(t, runOpts{}, script, file)); got != "storm-done\n" {
		t.Fatalf("fork storm printed %q", got)
	}
}

func TestKillingNpEndsTheProgramsTree(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	marker := "4343." + strconv.Itoa(os.Getpid())
	cmd := npCmd(t, runOpts{}, "run", busybox(t), "sh", "-c", `"$0" "$1" & "$0" "$1"; wait`, sleep, marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sleeps := func() []string {
		out, _ := exec.Command("pgrep", "-f", "^"+sleep+" "+marker+"$").Output()
		return strings.Fields(string(out))
	}
	t.Cleanup(func() {
		for _, pid := range sleeps() {
			if n, err := strconv.Atoi(pid); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	waitFor(t, "both sleeps to start", 10*time.Second, func() bool { return len(sleeps()) == 2 })
	cmd.Process.Kill()
	waitBounded(t, cmd, time.Minute)
	// Under ptrace every tracee dies with the tracer (PTRACE_O_EXITKILL);
	// under ns the sandbox init, reaper of the program's tree, notices np's
	// death and ends the tree (README: "Nothing outlives np").
	waitFor(t, "the program's sleeps to end with np", 5*time.Second, func() bool { return len(sleeps()) == 0 })
}

func TestTracerInsideEndsCleanly(t *testing.T) {
	// strace inside np: works, or fails with a message; never hangs.
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("this test needs strace: %v", err)
	}
	file, content := nixFile(t)
	cmd := npCmd(t, runOpts{}, "run", strace, "-f", "-o", "/dev/null", busybox(t), "cat", file)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hung := time.AfterFunc(bound(60*time.Second), func() { cmd.Process.Kill() })
	cmd.Wait()
	if !hung.Stop() {
		t.Fatal("strace inside np hung for a minute")
	}
	code := cmd.ProcessState.ExitCode()
	if pass == "ns" && (code != 0 || out.String() != content) {
		t.Fatalf("strace inside the ns runtime: exit %d, output %q", code, out.String())
	}
	if code != 0 && code != 1 {
		t.Fatalf("strace inside np: exit %d; want success or a clean failure", code)
	}
}

func TestUntranslatableSyscallsGiveENOSYS(t *testing.T) {
	// An unknown system call number: ENOSYS natively, and a tracer must not
	// let it through untranslated either.
	r := np(t, runOpts{}, "run", "perl", "-e", `syscall(1000, 0) == -1 or die "succeeded\n"; print "$!\n"`)
	if got := strings.TrimSpace(must(t, r)); got != "Function not implemented" {
		t.Fatalf("syscall 1000 inside np: %q", got)
	}
	if pass == "ns" {
		return // io_uring works natively under ns
	}
	// io_uring_setup: its operations would reach paths without a system
	// call the tracer sees, so ptrace refuses it and programs fall back.
	r = np(t, runOpts{}, "run", "perl", "-e", `my $p = "\0" x 120; syscall($ARGV[0], 1, $p) == -1 or die "succeeded\n"; print "$!\n"`, strconv.Itoa(unix.SYS_IO_URING_SETUP))
	if got := strings.TrimSpace(must(t, r)); got != "Function not implemented" {
		t.Fatalf("io_uring_setup inside ptrace: %q", got)
	}
}
