/* rx MODE MIB: a child sends MIB MiB over NETLINK_USERSOCK in datagrams of a 100-byte head and
 * 56 KiB of data; the parent receives them (MODE recv: recvmsg into a buffer, write() the
 * data to a tmpfs file; MODE splice: splice the datagram into a pipe, read() the head,
 * splice() the data into the file) and prints its own CPU time and the wall time. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define HEAD 100
#define DATA 57344
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
	int splicing = !strcmp(argv[1], "splice"); long n = atol(argv[2]) * 1048576L / DATA;
	int r = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	struct sockaddr_nl a = { .nl_family = AF_NETLINK }; socklen_t l = sizeof a;
	int rcv = 4 << 20; setsockopt(r, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
	bind(r, (void *)&a, sizeof a); getsockname(r, (void *)&a, &l);
	unsigned port = a.nl_pid;
	pid_t c = fork();
	if (c == 0) {
		int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK); struct sockaddr_nl b = { .nl_family = AF_NETLINK };
		bind(s, (void *)&b, sizeof b);
		static char buf[HEAD + DATA]; memset(buf, 'x', sizeof buf); struct nlmsghdr *h = (void *)buf;
		h->nlmsg_len = sizeof buf; h->nlmsg_type = 0x10;
		struct sockaddr_nl d = { .nl_family = AF_NETLINK, .nl_pid = port };
		for (long i = 0; i < n; i++) if (sendto(s, buf, sizeof buf, 0, (void *)&d, sizeof d) < 0) { perror("send"); _exit(1); }
		_exit(0);
	}
	int f = open("/tmp/rx.out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int p[2]; pipe2(p, 0); fcntl(p[1], F_SETPIPE_SZ, 256 * 1024);
	static char buf[65536 + 4096]; double t0 = now();
	for (long i = 0; i < n; i++) {
		if (!splicing) {
			ssize_t m = recv(r, buf, sizeof buf, 0);
			if (m != HEAD + DATA || write(f, buf + HEAD, DATA) != DATA) { perror("recv/write"); return 1; }
		} else {
			ssize_t m = splice(r, NULL, p[1], NULL, sizeof buf, 0);
			if (m != HEAD + DATA || read(p[0], buf, HEAD) != HEAD) { perror("splice/read"); return 1; }
			for (ssize_t left = DATA; left > 0;) { ssize_t w = splice(p[0], NULL, f, NULL, left, 0); if (w <= 0) { perror("splice out"); return 1; } left -= w; }
		}
	}
	double t1 = now(); waitpid(c, NULL, 0);
	struct rusage u; getrusage(RUSAGE_SELF, &u);
	printf("%s %ld MiB: wall %.0f ms, receiver cpu %.0f ms (user %.0f sys %.0f)\n", argv[1], atol(argv[2]), (t1 - t0) * 1e3,
	       (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3, u.ru_utime.tv_sec * 1e3 + u.ru_utime.tv_usec / 1e3, u.ru_stime.tv_sec * 1e3 + u.ru_stime.tv_usec / 1e3);
	return 0;
}
