/* Can a netlink socket be spliced into a pipe (copy_splice_read, Linux >= 6.5)? And does a
 * netlink socket connected to a port refuse unicasts from any other (ECONNREFUSED)? */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
static int sock(unsigned *port) {
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	if (fd < 0 || bind(fd, (void *)&a, sizeof a)) { perror("sock"); exit(1); }
	socklen_t l = sizeof a; getsockname(fd, (void *)&a, &l); *port = a.nl_pid; return fd;
}
static void sendto_port(int fd, unsigned port, size_t len, char fill) {
	char *buf = malloc(len); struct nlmsghdr *h = (void *)buf;
	memset(buf, fill, len); h->nlmsg_len = len; h->nlmsg_type = 0x10; h->nlmsg_flags = 0; h->nlmsg_seq = 1; h->nlmsg_pid = 0;
	struct sockaddr_nl d = { .nl_family = AF_NETLINK, .nl_pid = port };
	ssize_t n = sendto(fd, buf, len, 0, (void *)&d, sizeof d);
	printf("send %zu from fd %d -> port %u: %zd %s\n", len, fd, port, n, n < 0 ? strerror(errno) : "");
	free(buf);
}
int main(void) {
	unsigned rp, sp, op;
	int r = sock(&rp), s = sock(&sp), o = sock(&op);
	int p[2]; if (pipe2(p, O_CLOEXEC)) return 1;
	printf("pipe size %d -> %d\n", fcntl(p[1], F_GETPIPE_SZ), fcntl(p[1], F_SETPIPE_SZ, 256 * 1024));
	sendto_port(s, rp, 57344 + 100, 'a');
	ssize_t n = splice(r, NULL, p[1], NULL, 128 * 1024, SPLICE_F_NONBLOCK);
	printf("splice socket -> pipe: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	if (n > 0) { char *b = malloc(n); ssize_t m = read(p[0], b, n); printf("read back %zd, byte 200 = %c, nlmsg_len %u\n", m, b[200], ((struct nlmsghdr *)b)->nlmsg_len); }
	/* connect the receiver to the sender's port: a third socket must be refused */
	struct sockaddr_nl c = { .nl_family = AF_NETLINK, .nl_pid = sp };
	printf("connect to %u: %d\n", sp, connect(r, (void *)&c, sizeof c));
	sendto_port(o, rp, 200, 'b');
	sendto_port(s, rp, 200, 'c');
	n = splice(r, NULL, p[1], NULL, 128 * 1024, SPLICE_F_NONBLOCK);
	printf("splice: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	if (n > 0) { char b[300]; read(p[0], b, n); printf("got fill %c\n", b[100]); }
	n = splice(r, NULL, p[1], NULL, 128 * 1024, SPLICE_F_NONBLOCK);
	printf("splice again: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	return 0;
}
