// pathops: one path operation per call, printing the result or the errno
// name, so traced and native runs can be compared line by line.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <ftw.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <linux/stat.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

extern char **environ;

static int fail(void) { printf("%s\n", strerrorname_np(errno)); return 1; }
static int ok(int r) { if (r < 0) return fail(); printf("ok\n"); return 0; }

static char *exec_path;
static void *thread_exec(void *arg) {
	char *argv[] = {"from-thread", "argv0", NULL};
	execv(exec_path, argv);
	fail();
	exit(1);
}

static volatile int handled;
static void on_alarm(int sig) {
	(void)sig;
	struct stat st;
	stat("/nix/hello", &st); // path calls of its own, in the middle of the open
	stat("/nix/dir/../hello", &st);
	handled++;
}

// fork-under-signals: a thread keeps a signal pending for the main
// thread, whose handler makes a system call of its own, while the main
// thread forks and its children exec a program.
static volatile int hammer_stop;
static pid_t hammer_target;
static void on_usr1(int sig) { (void)sig; getppid(); }
static void *hammer(void *arg) {
	(void)arg;
	while (!hammer_stop) { syscall(SYS_tgkill, getpid(), hammer_target, SIGUSR1); usleep(50); }
	return NULL;
}
static int fork_exec_wait(const char *prog) {
	pid_t c = fork();
	if (c < 0) return -1;
	if (c == 0) { execl(prog, prog, "true", (char *)NULL); _exit(100 + errno); }
	int st; while (waitpid(c, &st, 0) < 0) if (errno != EINTR) return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
static int forks_under_signals(const char *prog) {
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1; sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	hammer_target = syscall(SYS_gettid);
	pthread_t th; pthread_create(&th, NULL, hammer, NULL);
	int bad = 0;
	for (int i = 0; i < 4; i++) { // the tracer maps its scratch area at the second fork's return
		int r = fork_exec_wait(prog);
		if (r != 0) { printf("child %d: %s\n", i, r >= 100 && r < 228 ? strerrorname_np(r - 100) : "failed"); bad = 1; }
	}
	hammer_stop = 1; pthread_join(th, NULL);
	return bad;
}

// The calls newer Nix and glibc make (Nix 2.34: openat2 with
// RESOLVE_BENEATH to unpack into the store, fchmodat2 before deleting,
// close_range before exec; glibc's threads and posix_spawn: clone3).
static int cat_fd(int fd) {
	char b[256]; ssize_t n = read(fd, b, sizeof b - 1); if (n < 0) return fail();
	b[n] = 0; printf("%s", b); return 0;
}
static int openat2_op(int dirfd, const char *p, unsigned long long flags, unsigned long long mode, unsigned long long resolve) {
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
	return syscall(SYS_openat2, dirfd, p, &how, sizeof how);
}
struct clone3_args { // struct clone_args of linux/sched.h, whose header clashes with sched.h
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};
static int newer_calls(int argc, char **argv) {
	const char *op = argv[1], *p = argv[2];
	if (!strcmp(op, "openat2")) { // openat2 of an absolute path, no RESOLVE flags
		int fd = openat2_op(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0, 0); if (fd < 0) return fail();
		return cat_fd(fd);
	}
	if (!strcmp(op, "openat2-beneath")) { // DIR NAME: as Nix opens in the store
		int d = open(p, O_RDONLY | O_DIRECTORY); if (d < 0) return fail();
		int fd = openat2_op(d, argv[3], O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (fd < 0) return fail();
		return cat_fd(fd);
	}
	if (!strcmp(op, "openat2-create")) { // DIR NAME: create as Nix unpacks a NAR
		int d = open(p, O_RDONLY | O_DIRECTORY); if (d < 0) return fail();
		int fd = openat2_op(d, argv[3], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (fd < 0) return fail();
		if (write(fd, "made\n", 5) != 5) return fail();
		return ok(close(fd));
	}
	if (!strcmp(op, "fchmodat2")) { // DIR NAME MODE: as Nix makes a tree deletable
		int d = open(p, O_RDONLY | O_DIRECTORY); if (d < 0) return fail();
		return ok(syscall(SYS_fchmodat2, d, argv[3], (unsigned)strtoul(argv[4], NULL, 8), AT_SYMLINK_NOFOLLOW));
	}
	if (!strcmp(op, "fchmodat2-abs")) { // PATH MODE
		return ok(syscall(SYS_fchmodat2, AT_FDCWD, p, (unsigned)strtoul(argv[3], NULL, 8), AT_SYMLINK_NOFOLLOW));
	}
	if (!strcmp(op, "statx")) { // PATH: its inode
		struct statx sx; if (statx(AT_FDCWD, p, 0, STATX_INO, &sx) < 0) return fail();
		printf("%llu\n", (unsigned long long)sx.stx_ino); return 0;
	}
	if (!strcmp(op, "statx-empty")) { // PATH: statx of its fd with AT_EMPTY_PATH
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		struct statx sx; if (statx(fd, "", AT_EMPTY_PATH, STATX_INO, &sx) < 0) return fail();
		printf("%llu\n", (unsigned long long)sx.stx_ino); return 0;
	}
	if (!strcmp(op, "clone3")) { // PATH: a child made by clone3 reads it
		struct clone3_args a = {.exit_signal = SIGCHLD};
		fflush(stdout);
		long pid = syscall(SYS_clone3, &a, sizeof a);
		if (pid < 0) return fail();
		if (pid == 0) {
			int fd = open(p, O_RDONLY); if (fd < 0) { fail(); fflush(stdout); _exit(1); }
			cat_fd(fd); fflush(stdout); _exit(0);
		}
		int ws; if (waitpid(pid, &ws, 0) < 0) return fail();
		printf("status %d\n", WEXITSTATUS(ws)); return 0;
	}
	if (!strcmp(op, "close-range")) { // PATH: every fd above 2 closed, then an open
		for (int i = 0; i < 4; i++) open("/", O_RDONLY);
		if (syscall(SYS_close_range, 3, ~0U, 0) < 0) return fail();
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		printf("fd %d ", fd); return cat_fd(fd);
	}
	(void)argc;
	return -1;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

// walk: print what a program sees of every entry under a tree.
static int walk_entry(const char *p, const struct stat *lst, int flag, struct FTW *f) {
	(void)flag; (void)f;
	struct stat st;
	char buf[4096];
	printf("%s type=%o", p, lst->st_mode & S_IFMT);
	if (S_ISLNK(lst->st_mode)) {
		ssize_t n = readlink(p, buf, sizeof buf - 1);
		if (n >= 0) { buf[n] = 0; printf(" link=%s", buf); }
	}
	if (stat(p, &st) < 0) printf(" stat=%s", strerrorname_np(errno));
	else if (S_ISREG(st.st_mode)) printf(" stat=%o size=%lld", st.st_mode & S_IFMT, (long long)st.st_size);
	else printf(" stat=%o", st.st_mode & S_IFMT); // directory sizes differ between a real / and the ns runtime's
	int fd = open(p, O_RDONLY);
	if (fd < 0) printf(" open=%s", strerrorname_np(errno));
	else {
		if (S_ISREG(st.st_mode)) {
			ssize_t n = read(fd, buf, 64);
			if (n >= 0) { buf[n] = 0; char *nl = strchr(buf, '\n'); if (nl) *nl = 0; printf(" data=%s", buf); }
		}
		close(fd);
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2) { fprintf(stderr, "usage: pathops OP ARGS\n"); return 2; }
	const char *op = argv[1], *p = argc > 2 ? argv[2] : NULL;
	char buf[8192];
	struct stat st;
	if (!strcmp(op, "open")) return ok(open(p, O_RDONLY));
	if (!strcmp(op, "open-nofollow")) return ok(open(p, O_RDONLY | O_NOFOLLOW));
	if (!strcmp(op, "cat")) {
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		ssize_t n; while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
		return 0;
	}
	if (!strcmp(op, "openat-fd0")) return ok(openat(0, p, O_RDONLY));
	if (!strcmp(op, "openat-empty")) return ok(openat(AT_FDCWD, "", O_RDONLY));
	if (!strcmp(op, "openat-null")) return ok(syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY));
	if (!strcmp(op, "openat-bad")) return ok(syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY));
	if (!strcmp(op, "openat-dirfd")) { // openat(open(dir), name)
		int d = open(p, O_RDONLY | O_DIRECTORY); if (d < 0) return fail();
		return ok(openat(d, argv[3], O_RDONLY));
	}
	if (!strcmp(op, "xattrs")) { // llistxattr and lgetxattr of p, sizes asked first as Nix does
		ssize_t n = llistxattr(p, NULL, 0); if (n < 0) return fail();
		char list[4096], val[256]; n = llistxattr(p, list, n); if (n < 0) return fail();
		for (char *k = list; k < list + n; k += strlen(k) + 1) {
			ssize_t v = lgetxattr(p, k, val, sizeof val - 1); if (v < 0) return fail();
			val[v] = 0; printf("%s=%s\n", k, val);
		}
		return 0;
	}
	if (!strcmp(op, "renameat-dirfd")) { // renameat(open(dir), name, AT_FDCWD, dest)
		int d = open(p, O_RDONLY | O_DIRECTORY); if (d < 0) return fail();
		return ok(renameat(d, argv[3], AT_FDCWD, argv[4]));
	}
	if (p) { int r = newer_calls(argc, argv); if (r >= 0) return r; }
	if (!strcmp(op, "openat-path")) { // O_PATH opens relative to a dirfd, as libarchive walks
		int d = open(p, O_PATH | O_DIRECTORY); if (d < 0) return fail();
		d = openat(d, argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC); if (d < 0) return fail();
		return ok(openat(d, argv[4], O_RDONLY));
	}
	if (!strcmp(op, "fstat-empty")) {
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) return fail();
		printf("%llu\n", (unsigned long long)st.st_ino); return 0;
	}
	if (!strcmp(op, "ino")) { if (stat(p, &st) < 0) return fail(); printf("%llu\n", (unsigned long long)st.st_ino); return 0; }
	if (!strcmp(op, "lstat")) return ok(lstat(p, &st));
	if (!strcmp(op, "stat")) return ok(stat(p, &st));
	if (!strcmp(op, "access")) return ok(access(p, R_OK));
	if (!strcmp(op, "readlink")) {
		ssize_t n = readlink(p, buf, sizeof buf); if (n < 0) return fail();
		printf("%.*s\n", (int)n, buf); return 0;
	}
	if (!strcmp(op, "readlink-short")) { // bufsiz 5: truncated, no NUL
		memset(buf, 'X', 16);
		ssize_t n = readlink(p, buf, 5); if (n < 0) return fail();
		printf("%zd %.8s\n", n, buf); return 0;
	}
	if (!strcmp(op, "fdlink")) {
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
		char out[4096]; ssize_t n = readlink(buf, out, sizeof out); if (n < 0) return fail();
		printf("%.*s\n", (int)n, out); return 0;
	}
	if (!strcmp(op, "pipelink")) {
		int fds[2]; if (pipe(fds) < 0) return fail();
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", fds[0]);
		char out[4096]; ssize_t n = readlink(buf, out, sizeof out); if (n < 0) return fail();
		printf("%.5s\n", out); return 0;
	}
	if (!strcmp(op, "cwd")) {
		if (chdir(p) < 0) return fail();
		if (!getcwd(buf, sizeof buf)) return fail();
		char out[4096]; ssize_t n = readlink("/proc/self/cwd", out, sizeof out); if (n < 0) return fail();
		printf("%s %.*s\n", buf, (int)n, out); return 0;
	}
	if (!strcmp(op, "getcwd-small")) {
		if (chdir(p) < 0) return fail();
		return ok(syscall(SYS_getcwd, buf, 3));
	}
	if (!strcmp(op, "exe")) {
		ssize_t n = readlink("/proc/self/exe", buf, sizeof buf); if (n < 0) return fail();
		printf("%.*s\n", (int)n, buf); return 0;
	}
	if (!strcmp(op, "argv0")) { printf("%s\n", argv[0]); return 0; }
	if (!strcmp(op, "reexec")) { // re-executes itself through /proc/self/exe
		if (p && !strcmp(p, "child")) { printf("child ok\n"); return 0; }
		char *nargv[] = {argv[0], "reexec", "child", NULL};
		execv("/proc/self/exe", nargv); return fail();
	}
	if (!strcmp(op, "exec")) { execv(p, argv + 3); return fail(); }
	if (!strcmp(op, "fexecve")) {
		int fd = open(p, O_RDONLY | O_CLOEXEC); if (fd < 0) return fail();
		fexecve(fd, argv + 3, environ); return fail();
	}
	if (!strcmp(op, "vfork")) {
		pid_t pid = vfork();
		if (pid == 0) { execv(p, argv + 3); _exit(127); }
		int ws; waitpid(pid, &ws, 0); printf("status %d\n", WEXITSTATUS(ws)); return 0;
	}
	if (!strcmp(op, "spawn")) {
		pid_t pid; int r = posix_spawn(&pid, p, NULL, NULL, argv + 3, environ);
		if (r) { errno = r; return fail(); }
		int ws; waitpid(pid, &ws, 0); printf("status %d\n", WEXITSTATUS(ws)); return 0;
	}
	if (!strcmp(op, "thread-exec")) {
		exec_path = (char *)p; pthread_t th; pthread_create(&th, NULL, thread_exec, NULL);
		pthread_join(th, NULL); return 1;
	}
	if (!strcmp(op, "fork-under-signals")) { // p: a busybox to exec; in a fresh child each round
		int bad = 0;
		for (int i = 0; i < 30; i++) {
			pid_t m = fork();
			if (m == 0) { int r = forks_under_signals(p); fflush(stdout); _exit(r); }
			int st; waitpid(m, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
		}
		printf(bad ? "failed\n" : "ok\n");
		return bad;
	}
	if (!strcmp(op, "uring")) return ok(syscall(425, 1, NULL));
	if (!strcmp(op, "unknown")) return ok(syscall(1000));
	if (!strcmp(op, "longpath")) {
		char *lp = malloc(5000); memset(lp, 'a', 4999); lp[0] = '/'; lp[4999] = 0;
		return ok(open(lp, O_RDONLY));
	}
	if (!strcmp(op, "ls")) {
		DIR *d = opendir(p); if (!d) return fail();
		char *names[1024]; int n = 0; struct dirent *e;
		while ((e = readdir(d)) && n < 1024) names[n++] = strdup(e->d_name);
		qsort(names, n, sizeof *names, cmpstr);
		for (int i = 0; i < n; i++) printf("%s\n", names[i]);
		return 0;
	}
	if (!strcmp(op, "ls-small")) { // getdents64 with room for about one entry a call
		int fd = open(p, O_RDONLY | O_DIRECTORY); if (fd < 0) return fail();
		char *names[1024]; int n = 0; char small[64]; long k;
		while ((k = syscall(SYS_getdents64, fd, small, sizeof small)) > 0)
			for (long off = 0; off < k && n < 1024;) {
				unsigned short reclen = *(unsigned short *)(small + off + 16);
				names[n++] = strdup(small + off + 19);
				off += reclen;
			}
		if (k < 0) return fail();
		qsort(names, n, sizeof *names, cmpstr);
		for (int i = 0; i < n; i++) printf("%s\n", names[i]);
		return 0;
	}
	if (!strcmp(op, "sock")) { // bind at p, print getsockname
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		strncpy(a.sun_path, p, sizeof a.sun_path - 1);
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) return fail();
		struct sockaddr_un b; socklen_t l = sizeof b;
		if (getsockname(s, (struct sockaddr *)&b, &l) < 0) return fail();
		listen(s, 1);
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) return fail();
		printf("%s\n", b.sun_path); return 0;
	}
	if (!strcmp(op, "dgram")) { // bind a datagram socket at p, sendto it, read it back
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		strncpy(a.sun_path, p, sizeof a.sun_path - 1);
		if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) return fail();
		int c = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (sendto(c, "dgram ok", 8, 0, (struct sockaddr *)&a, sizeof a) < 0) return fail();
		ssize_t n = recv(s, buf, sizeof buf, 0); if (n < 0) return fail();
		printf("%.*s\n", (int)n, buf); return 0;
	}
	if (!strcmp(op, "fifo-restart")) { // an open of a FIFO restarted after a signal handler
		if (mkfifo(p, 0600) < 0) return fail();
		struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
		sigaction(SIGALRM, &sa, NULL);
		pid_t w = fork();
		if (w == 0) { // the writer gives up after 3 s rather than hang the test
			usleep(300000);
			for (int i = 0; i < 30; i++, usleep(100000)) {
				int fd = open(argv[3], O_WRONLY | O_NONBLOCK);
				if (fd >= 0) { write(fd, "fifo ok", 7); _exit(0); }
			}
			_exit(1);
		}
		struct itimerval it = {.it_value = {.tv_usec = 100000}};
		setitimer(ITIMER_REAL, &it, NULL);
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		ssize_t n = read(fd, buf, sizeof buf); if (n < 0) return fail();
		waitpid(w, NULL, 0);
		printf("%.*s handled=%d\n", (int)n, buf, handled); return 0;
	}
	if (!strcmp(op, "dumpable")) {
		syscall(SYS_prctl, 4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0);
		int fd = open(p, O_RDONLY); if (fd < 0) return fail();
		snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd);
		char out[4096]; ssize_t n = readlink(buf, out, sizeof out); if (n < 0) return fail();
		printf("%.*s\n", (int)n, out); return 0;
	}
	if (!strcmp(op, "walk")) {
		for (int i = 2; i < argc; i++) nftw(argv[i], walk_entry, 16, FTW_PHYS);
		return 0;
	}
	if (!strcmp(op, "paths")) { // stat/readlink/open each path given
		for (int i = 2; i < argc; i++) {
			struct stat l;
			if (lstat(argv[i], &l) < 0) { printf("%s lstat=%s\n", argv[i], strerrorname_np(errno)); continue; }
			walk_entry(argv[i], &l, 0, NULL);
		}
		return 0;
	}
	if (!strcmp(op, "userns-chroot")) { // DIR PROG ARGS: chroot in a new user namespace made by clone, not unshare (Docker refuses unshare)
		pid_t c = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
		if (c < 0) return fail();
		if (c == 0) {
			if (chroot(p) < 0 || chdir("/") < 0) { perror("chroot"); _exit(1); }
			execv(argv[3], argv + 3); perror("execv"); _exit(127);
		}
		int ws; if (waitpid(c, &ws, 0) < 0) return fail();
		return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	}
	fprintf(stderr, "pathops: unknown op %s\n", op);
	return 2;
}
