// kernels-entropy: the kernel VMs' entropy, for integration/kernels-init.sh.
// Kernels before 4.19 have no random.trust_cpu and the VMs have no virtio-rng
// driver built in, so their pool stays uninitialised for minutes and
// getrandom(2) blocks. Run as root:
//
//   kernels-entropy state   prints "starved" (getrandom would block),
//                           "ready", or "nosys" (no getrandom: Linux < 3.17)
//   kernels-entropy seed F  credits the pool with F's bytes (written by the
//                           host from its own /dev/urandom) mixed with the
//                           guest's, then waits until getrandom no longer
//                           blocks; exit 1 when it still would after 30 s
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 1
#endif

// state: 0 ready, 1 starved, 2 no getrandom.
static int state(void) {
	char b[16];
	if (syscall(SYS_getrandom, b, sizeof b, GRND_NONBLOCK) >= 0)
		return 0;
	return errno == EAGAIN ? 1 : 2;
}

int main(int argc, char **argv) {
	static const char *names[] = {"ready", "starved", "nosys"};
	if (argc == 2 && strcmp(argv[1], "state") == 0) {
		puts(names[state()]);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "seed") != 0) {
		fprintf(stderr, "usage: %s state | seed FILE\n", argv[0]);
		return 2;
	}
	struct {
		struct rand_pool_info info;
		unsigned char buf[512];
	} e;
	int host = open(argv[2], O_RDONLY), ur = open("/dev/urandom", O_RDONLY), rnd = open("/dev/random", O_RDWR);
	if (host < 0 || ur < 0 || rnd < 0) {
		perror("kernels-entropy: open");
		return 1;
	}
	ssize_t n = read(host, e.buf, sizeof e.buf);
	if (n < 64) {
		fprintf(stderr, "kernels-entropy: %s holds %zd bytes, want 64 or more\n", argv[2], n);
		return 1;
	}
	unsigned char g[sizeof e.buf];
	if (read(ur, g, sizeof g) == (ssize_t)sizeof g)
		for (size_t i = 0; i < sizeof g; i++)
			e.buf[i] ^= g[i];
	// Credit a full pool (4096 bits) each time: old kernels move entropy
	// to the pool getrandom reads from only when the input pool is nearly
	// full, or when /dev/urandom is read.
	for (int round = 0; round < 300; round++) {
		e.info.entropy_count = 4096;
		e.info.buf_size = sizeof e.buf;
		if (ioctl(rnd, RNDADDENTROPY, &e.info) != 0) {
			perror("kernels-entropy: RNDADDENTROPY");
			return 1;
		}
		read(ur, g, sizeof g);
		int s = state();
		if (s != 1) {
			printf("kernels-entropy: %s after %d credits\n", names[s], round + 1);
			return 0;
		}
		struct timespec t = {0, 100000000};
		nanosleep(&t, NULL);
	}
	fprintf(stderr, "kernels-entropy: getrandom still blocks after 30 s of credits\n");
	return 1;
}
