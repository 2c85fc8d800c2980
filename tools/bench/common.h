/* Shared bits of the benchmark programs in tools/bench/: netlink framing over
 * NETLINK_USERSOCK with the ckpt protocol numbers taken from the UAPI header (never
 * re-declared here), time, and a small attribute walker. */
#ifndef CKPT_BENCH_COMMON_H
#define CKPT_BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>

#include "../../kernel-patch/include/uapi/linux/ckpt.h"

#define BENCH_MSG_BUF (64 * 1024 + 4096) /* a maximal message never truncates */
#define BENCH_MAX_STREAMS 1024

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(2);
}

static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Bind a NETLINK_USERSOCK socket, kernel-chosen port; optional receive buffer. */
static inline int usersock_bind(int rcvbuf, uint32_t *port)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	if (fd < 0)
		die("socket(NETLINK_USERSOCK)");
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		die("SO_RCVBUF");
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	socklen_t sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		die("getsockname");
	*port = sa.nl_pid;
	return fd;
}

/* What a receiver needs from one ckpt message. */
struct ckpt_msg {
	uint8_t cmd;
	uint64_t crid;
	uint32_t seq;
	const void *data;
	uint32_t data_len;
	int has_crid, has_seq;
};

/* Validates one netlink message (header, genl header, attribute framing) and pulls out
 * the fields the plain receivers use. Returns 0, or -1 with a reason in *why. */
static inline int ckpt_parse(const struct nlmsghdr *nlh, size_t avail, struct ckpt_msg *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	if (avail < NLMSG_HDRLEN + GENL_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN ||
	    nlh->nlmsg_len > avail) {
		*why = "bad nlmsg_len";
		return -1;
	}
	if (nlh->nlmsg_type != CKPT_USERSOCK_TYPE) {
		*why = "not a ckpt message";
		return -1;
	}
	const struct genlmsghdr *g = (const void *)((const char *)nlh + NLMSG_HDRLEN);
	if (g->version != CKPT_FAMILY_VERSION || g->cmd < CKPT_CMD_STREAM_BEGIN || g->cmd > CKPT_CMD_STREAM_ABORT) {
		*why = "bad genl header";
		return -1;
	}
	m->cmd = g->cmd;
	const char *p = (const char *)g + GENL_HDRLEN;
	const char *end = (const char *)nlh + nlh->nlmsg_len;
	while (end - p >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;
		if (a->nla_len < NLA_HDRLEN || a->nla_len > end - p) {
			*why = "bad attribute length";
			return -1;
		}
		const void *pl = p + NLA_HDRLEN;
		uint32_t plen = a->nla_len - NLA_HDRLEN;
		switch (a->nla_type & NLA_TYPE_MASK) {
		case CKPT_A_CRID:
			if (plen != 8) { *why = "crid size"; return -1; }
			memcpy(&m->crid, pl, 8);
			m->has_crid = 1;
			break;
		case CKPT_A_SEQ:
			if (plen != 4) { *why = "seq size"; return -1; }
			memcpy(&m->seq, pl, 4);
			m->has_seq = 1;
			break;
		case CKPT_A_DATA:
			if (plen > CKPT_DATA_MAX) { *why = "data too long"; return -1; }
			m->data = pl;
			m->data_len = plen;
			break;
		default:
			break;
		}
		p += NLA_ALIGN(a->nla_len);
	}
	if (!m->has_crid || !m->has_seq) {
		*why = "missing crid or seq";
		return -1;
	}
	return 0;
}

/* Per-stream state of the plain receivers: crid -> file, expected seq. */
struct bstream {
	uint64_t crid;
	int fd;
	uint32_t next_seq;
	int ended;
	uint64_t bytes;
	FILE *fp; /* libnl peer only */
	uint64_t written, allocated; /* batched --allocate-ahead only */
};

struct btable {
	struct bstream s[BENCH_MAX_STREAMS];
	int n, ended;
};

static inline struct bstream *btable_find(struct btable *t, uint64_t crid)
{
	/* Streams are few; the last hit is the likely one. */
	static int last;
	if (last < t->n && t->s[last].crid == crid)
		return &t->s[last];
	for (int i = 0; i < t->n; i++)
		if (t->s[i].crid == crid) {
			last = i;
			return &t->s[i];
		}
	return NULL;
}

static inline void print_port(uint32_t port)
{
	printf("usersock port %u\n", port);
	fflush(stdout);
}

#endif
