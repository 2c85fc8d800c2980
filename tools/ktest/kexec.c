// SPDX-License-Identifier: GPL-2.0
/*
 * kexec: the victim of the exec-race scenarios (tools/ktest/scenarios).
 *
 *   kexec a SUID_COPY [HEAP_MIB]    stage a, run as an unprivileged uid
 *   kexec b                         stage b, exec'd from a setuid-root copy
 *   kexec nodump                    a non-dumpable process (PR_SET_DUMPABLE 0)
 *                                   that stops itself: the ptrace check's
 *                                   dumpable rule, as setuid programs get it
 *
 * Stage a writes a marker into `buf` (.data), touches HEAP_MIB MiB of heap
 * (a stream that takes a while), prints "a uid U euid E", and stops itself.
 * When continued it execs SUID_COPY b: the same static, non-PIE program,
 * so `buf` sits at the same address in the new image. Stage b reads
 * /etc/shadow into `secret` (what a checkpoint must never ship), prints
 * "b uid U euid E", stops itself, and when continued prints "b buf=..."
 * and exits: a restart that wrote the old image into the setuid process
 * shows up as stage a's marker in stage b's buf.
 */
#include <fcntl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[4096] = "clean";
static char secret[4096];
static char *volatile heap;	/* volatile: the stores below must happen */

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "a")) {
		size_t len = (size_t)(argc > 3 ? atoi(argv[3]) : 1) << 20;

		heap = malloc(len);
		if (!heap)
			return 1;
		memset(heap, 0x5a, len);
		snprintf(buf, sizeof(buf), "PWNED: written by uid %d", getuid());
		printf("a uid %d euid %d\n", getuid(), geteuid());
		raise(SIGSTOP);
		execl(argv[2], argv[2], "b", (char *)NULL);
		perror("kexec: exec");
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "b")) {
		int fd = open("/etc/shadow", O_RDONLY);

		if (fd >= 0) {
			if (read(fd, secret, sizeof(secret) - 1) < 0)
				secret[0] = 0;
			close(fd);
		}
		printf("b uid %d euid %d secret %zu bytes\n", getuid(), geteuid(),
		       strlen(secret));
		raise(SIGSTOP);
		printf("b buf=%s\n", buf);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "nodump")) {
		prctl(PR_SET_DUMPABLE, 0);
		printf("nodump uid %d\n", getuid());
		raise(SIGSTOP);
		return 0;
	}
	fprintf(stderr, "usage: kexec a SUID_COPY [HEAP_MIB] | kexec b | kexec nodump\n");
	return 2;
}
