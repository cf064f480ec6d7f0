package ptrace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

//np:kernel-set smoke
func TestReadsNixFilesAndLeavesHostFilesAlone(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "cat", "/nix/hello"), "hello\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "cat", "/etc/passwd"), native(t, f.hostOps, "cat", "/etc/passwd"))
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "cat", "/nix/link"), "hello\n")
	})
}

func TestStatGivesTheDataDirsInode(t *testing.T) {
	f := getFixture(t)
	var st syscall.Stat_t
	if err := syscall.Stat(f.nix+"/hello", &st); err != nil {
		t.Fatal(err)
	}
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "ino", "/nix/hello"), fmt.Sprintln(st.Ino))
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "stat", "-c", "%i", "/nix/hello"), fmt.Sprintln(st.Ino))
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "stat", "-f", "-c", "%t %b", "/nix/hello"), native(t, "/bin/busybox", "stat", "-f", "-c", "%t %b", f.nix+"/hello"))
	})
}

func TestSymlinks(t *testing.T) {
	f := getFixture(t)
	hostLink := filepath.Join(t.TempDir(), "tonix")
	if err := os.Symlink("/nix/hello", hostLink); err != nil {
		t.Fatal(err)
	}
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "readlink", "/nix/link"), "/nix/hello\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "cat", "/nix/rel"), "hello\n")
		// Natively ENOENT: the host has no /nix.
		expect(t, traced(t, f.nix, ns, f.hostOps, "cat", hostLink), "hello\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "open", "/nix/loop1"), "ELOOP\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "open-nofollow", "/nix/link"), "ELOOP\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "lstat", "/nix/link"), "ok\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "open", "/nix/missing/x"), "ENOENT\n")
	})
}

func TestDotDotOutOfNixIsTheRoot(t *testing.T) {
	f := getFixture(t)
	want := native(t, f.hostOps, "ls", "/")
	want = insertSorted(want, "nix")
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "cd /nix && "+f.hostOps+" ls .."), want)
		expect(t, traced(t, f.nix, ns, f.hostOps, "ls", "/nix/dir/../.."), want)
		expect(t, traced(t, f.nix, ns, f.hostOps, "ls", "/"), want)
	})
}

// TestRootListingWithATinyBuffer: a reader of / whose buffer holds about
// one entry a call still meets nix once (where the tracer answers
// getdents64 by notification or at a ptrace stop).
func TestRootListingWithATinyBuffer(t *testing.T) {
	f := getFixture(t)
	want := insertSorted(native(t, f.hostOps, "ls-small", "/"), "nix")
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "ls-small", "/"), want)
	})
}

// insertSorted adds name to a sorted listing (one name a line).
func insertSorted(listing, name string) string {
	names := strings.Split(strings.TrimSuffix(listing, "\n"), "\n")
	for _, n := range names {
		if n == name {
			return listing
		}
	}
	names = append(names, name)
	for i := len(names) - 1; i > 0 && names[i] < names[i-1]; i-- {
		names[i], names[i-1] = names[i-1], names[i]
	}
	return strings.Join(names, "\n") + "\n"
}

func TestTrailingSlashAndOddArguments(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "open", "/nix/hello/"), "ENOTDIR\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "open", "/nix/hello/."), "ENOTDIR\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "open", "/nix/dir/"), "ok\n")
		// As natively: fd 0 is not a directory, "" is ENOENT, NULL EFAULT.
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-fd0", "x"), "ENOTDIR\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-empty"), "ENOENT\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-null"), "EFAULT\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-bad"), "EFAULT\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "longpath"), "ENAMETOOLONG\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-dirfd", "/nix/dir", "../hello"), "ok\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-dirfd", "/nix", "../nix/hello"), "ok\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "openat-path", "/", "nix", "hello"), "ok\n")
	})
}

func TestFstatWithEmptyPathIsUntouched(t *testing.T) {
	f := getFixture(t)
	var st syscall.Stat_t
	syscall.Stat(f.nix+"/hello", &st)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "fstat-empty", "/nix/hello"), fmt.Sprintln(st.Ino))
	})
}

func TestProcLinksShowGuestPaths(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "fdlink", "/nix/hello"), "/nix/hello\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "pipelink"), "pipe:\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "cwd", "/nix/dir"), "/nix/dir /nix/dir\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "getcwd-small", "/nix/dir"), "ERANGE\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "readlink-short", "/nix/link"), "5 /nix/XXX\n")
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", "cd /nix/dir && pwd -P && readlink /proc/self/cwd"), "/nix/dir\n/nix/dir\n")
		// PR_SET_DUMPABLE 0 is a no-op: /proc/self/fd still works.
		expect(t, traced(t, f.nix, ns, f.hostOps, "dumpable", "/nix/hello"), "/nix/hello\n")
	})
}

func TestChangesUnderNixLandInTheDataDir(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		d := "/nix/w" + map[bool]string{false: "s", true: "n"}[ns]
		script := strings.Join([]string{
			"mkdir " + d, "echo data > " + d + "/f", "mv " + d + "/f " + d + "/g", "ln " + d + "/g " + d + "/h",
			"ln -s /nix/hello " + d + "/s", "chmod 600 " + d + "/g", "touch -h " + d + "/s", "rm " + d + "/h",
			"cat " + d + "/g", "readlink " + d + "/s",
		}, " && ")
		r := traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", script)
		expect(t, r, "data\n/nix/hello\n")
		host := f.nix + d[len("/nix"):]
		if b, err := os.ReadFile(host + "/g"); err != nil || string(b) != "data\n" {
			t.Errorf("data dir file: %q, %v", b, err)
		}
		if l, err := os.Readlink(host + "/s"); err != nil || l != "/nix/hello" {
			t.Errorf("created symlink's text: %q, %v; want /nix/hello", l, err)
		}
		if fi, err := os.Stat(host + "/g"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("chmod: %v %v", fi, err)
		}
		if _, err := os.Lstat(host + "/h"); !os.IsNotExist(err) {
			t.Errorf("rm: %v", err)
		}
		os.RemoveAll(host)
	})
}

func TestBashTestsAndRefusedCalls(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, "/bin/bash", "-c", "[[ -r /nix/hello ]] && echo readable"), "readable\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "uring"), "ENOSYS\n")
		expect(t, traced(t, f.nix, ns, f.hostOps, "unknown"), "ENOSYS\n")
	})
}

// TestRemovedNamesAreLookedUpAfresh: the tracer caches lookups; a
// directory replaced by a symlink into /nix (rm + ln, or mv over it) must
// be seen as the symlink at once.
func TestRemovedNamesAreLookedUpAfresh(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		d := t.TempDir()
		script := strings.Join([]string{
			"mkdir " + d + "/x", "echo host > " + d + "/x/hello", "cat " + d + "/x/hello",
			"rm -r " + d + "/x", "ln -s /nix " + d + "/x", "cat " + d + "/x/hello",
			"mkdir " + d + "/y", "echo host2 > " + d + "/y/hello", "cat " + d + "/y/hello",
			"ln -s /nix " + d + "/z", "mv -T " + d + "/z " + d + "/y2", "rm -r " + d + "/y", "mv " + d + "/y2 " + d + "/y", "cat " + d + "/y/hello",
		}, " && ")
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", script), "host\nhello\nhost2\nhello\n")
	})
}

// TestRestartedCallsFindTheirPath: a blocking open under /nix, interrupted
// by a signal whose handler makes path calls of its own, is restarted by
// the kernel with the (rewritten) registers it had and must still open the
// same file.
func TestRestartedCallsFindTheirPath(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		fifo := "/nix/dir/fifo-" + filepath.Base(t.Name())
		expect(t, traced(t, f.nix, ns, f.hostOps, "fifo-restart", fifo, fifo), "fifo ok handled=1\n")
		os.Remove(f.nix + fifo[len("/nix"):])
	})
}

// TestCreatedFilesGetTheCallersUmask: an open that makes a file under
// /nix is answered by the notification server, which makes it itself; the
// file must get the caller's umask, not np's (022 here), as natively.
func TestCreatedFilesGetTheCallersUmask(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		d := "/nix/um" + map[bool]string{false: "s", true: "n"}[ns]
		host := f.nix + d[len("/nix"):]
		defer os.RemoveAll(host)
		script := strings.Join([]string{
			"mkdir " + d, "umask 027", "echo a > " + d + "/a", "umask 0", "echo b > " + d + "/b",
			"cd " + d, "umask 077", "echo c > c", // relative: let through
			"set -C", "{ echo again > " + d + "/a; } 2>/dev/null || echo exists",
			"cat a b c",
		}, " && ")
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", script), "exists\na\nb\nc\n")
		for name, want := range map[string]os.FileMode{"a": 0o640, "b": 0o666, "c": 0o600} {
			fi, err := os.Stat(filepath.Join(host, name))
			if err != nil {
				t.Errorf("%s/%s: %v", d, name, err)
			} else if fi.Mode().Perm() != want {
				t.Errorf("%s/%s: mode %v, want %v", d, name, fi.Mode().Perm(), want)
			}
		}
	})
}

// TestChangesMadeByTheServerKeepTheirMeaning: calls that make, move or
// change names under /nix are made by the notification server on host
// paths; a relative path they also name (to the cwd, to a directory fd)
// must still be the caller's, a mode gets the caller's umask, times and
// symlink texts arrive as given.
func TestChangesMadeByTheServerKeepTheirMeaning(t *testing.T) {
	f := getFixture(t)
	modes(t, func(t *testing.T, ns bool) {
		suffix := map[bool]string{false: "s", true: "n"}[ns]
		d := "/nix/redo" + suffix
		host := f.nix + d[len("/nix"):]
		work := t.TempDir()
		defer os.RemoveAll(host)
		if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		script := strings.Join([]string{
			"umask 027", "mkdir " + d, "mkdir " + d + "/m",
			"cd " + work, "echo a > a", "mv a " + d + "/a", // cwd-relative source, /nix target
			"echo b > sub/b", f.hostOps + " renameat-dirfd sub b " + d + "/b", // dirfd-relative source
			"ln -s ../elsewhere " + d + "/s", "TZ=UTC touch -d '2001-02-03 04:05:06' " + d + "/a",
			"cat " + d + "/a " + d + "/b", "readlink " + d + "/s",
		}, " && ")
		expect(t, traced(t, f.nix, ns, "/bin/busybox", "sh", "-c", script), "ok\na\nb\n../elsewhere\n")
		if fi, err := os.Stat(host + "/m"); err != nil {
			t.Errorf("mkdir: %v", err)
		} else if fi.Mode().Perm() != 0o750 {
			t.Errorf("mkdir under umask 027: mode %v, want 0750", fi.Mode().Perm())
		}
		if fi, err := os.Stat(host + "/a"); err != nil {
			t.Errorf("touch -d: %v", err)
		} else if got := fi.ModTime().UTC().Format("2006-01-02T15:04:05"); got != "2001-02-03T04:05:06" {
			t.Errorf("touch -d: mtime %s", got)
		}
		for _, gone := range []string{"a", "sub/b"} {
			if _, err := os.Lstat(filepath.Join(work, gone)); !os.IsNotExist(err) {
				t.Errorf("%s/%s still there after the move: %v", work, gone, err)
			}
		}
	})
}

// TestExtendedAttributesUnderNix: Nix lists every file's extended
// attributes (to drop them); under /nix they are the data dir's.
func TestExtendedAttributesUnderNix(t *testing.T) {
	f := getFixture(t)
	file := f.nix + "/xattr-file"
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)
	if err := unix.Lsetxattr(file, "user.np", []byte("hello"), 0); err != nil {
		t.Fatalf("this test needs user extended attributes where the fixture lives: %v", err)
	}
	modes(t, func(t *testing.T, ns bool) {
		expect(t, traced(t, f.nix, ns, f.hostOps, "xattrs", "/nix/xattr-file"), "user.np=hello\n")
	})
}
