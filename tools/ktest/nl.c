// SPDX-License-Identifier: GPL-2.0
/* ckpt-ktest: raw generic netlink plumbing shared by every subcommand. */
#define _GNU_SOURCE
#include "ktest.h"

int fam_id;

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ckpt-ktest: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---- CRC-32C (Castagnoli), bitwise table ---- */
static uint32_t crc_table[256];

void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t crc_update(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- message building ---- */

void msg_init(struct msg *m, int type, int cmd, int flags)
{
	struct genlmsghdr *g;

	memset(&m->nh, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	m->nh.nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	g = NLMSG_DATA(&m->nh);
	g->cmd = cmd;
	g->version = CKPT_FAMILY_VERSION;
}

void put(struct msg *m, int type, const void *data, size_t len)
{
	struct nlattr *a = (void *)(m->buf + m->nh.nlmsg_len);

	if (m->nh.nlmsg_len + NLA_HDRLEN + NLA_ALIGN(len) > BUF_SIZE)
		die("message too large");
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->nh.nlmsg_len += NLA_ALIGN(a->nla_len);
}


/* ---- attribute walking ---- */

void parse(struct nlattr **tb, const void *p, int len)
{
	const struct nlattr *a = p;

	memset(tb, 0, MAXA * sizeof(*tb));
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		int t = a->nla_type & NLA_TYPE_MASK;

		if (t < MAXA)
			tb[t] = (struct nlattr *)a;
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}



/* ---- socket, requests, errors ---- */
int nl_open(int rcvbuf)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (void *)&sa, sizeof(sa)))
		die("bind: %s", strerror(errno));
	return fd;
}

char last_extack[512];
uint32_t last_offs, last_miss;
int (*request_event)(struct nlmsghdr *nh);

/*
 * Sends @m and reads until its ack. A reply message is copied to @reply
 * (unless request_event takes it: an event of the request, not its reply).
 * Returns 0 or -errno; the extack text is in last_extack.
 */
int request(int fd, struct msg *m, struct msg *reply)
{
	static uint32_t seq = 1;
	static char rbuf[BUF_SIZE];

	m->nh.nlmsg_seq = seq++;
	last_extack[0] = 0;
	last_offs = 0;
	last_miss = 0;
	if (send(fd, m->buf, m->nh.nlmsg_len, 0) < 0)
		die("send: %s", strerror(errno));
	for (;;) {
		int n = recv(fd, rbuf, sizeof(rbuf), 0);
		struct nlmsghdr *nh;

		if (n < 0)
			die("recv: %s", strerror(errno));
		for (nh = (void *)rbuf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != m->nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type != NLMSG_ERROR) {
				if (request_event && request_event(nh))
					continue;
				if (reply)
					memcpy(reply->buf, nh, nh->nlmsg_len);
				continue;
			}
			return ack_error(nh);
		}
	}
}

/* An ack (NLMSG_ERROR): its error, its extack in last_extack, last_offs, last_miss. */
int ack_error(struct nlmsghdr *nh)
{
	struct nlmsgerr *e = NLMSG_DATA(nh);
	struct nlattr *tb[MAXA];

	last_extack[0] = 0;
	last_offs = 0;
	last_miss = 0;
	if (nh->nlmsg_flags & NLM_F_ACK_TLVS) {
		int off = NLMSG_HDRLEN + sizeof(*e);

		if (!(nh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		parse(tb, (char *)nh + off, nh->nlmsg_len - off);
		if (tb[NLMSGERR_ATTR_MSG])
			snprintf(last_extack, sizeof(last_extack), "%s",
				 (char *)adata(tb[NLMSGERR_ATTR_MSG]));
		if (tb[NLMSGERR_ATTR_OFFS])
			last_offs = get_u32(tb[NLMSGERR_ATTR_OFFS]);
		if (tb[NLMSGERR_ATTR_MISS_TYPE])
			last_miss = get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	}
	return e->error;
}

int resolve_family(int fd)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	struct nlattr *tb[MAXA];
	int err, id;

	msg_init(m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	put(m, CTRL_ATTR_FAMILY_NAME, CKPT_FAMILY_NAME, sizeof(CKPT_FAMILY_NAME));
	err = request(fd, m, r);
	if (err)
		die("family %s not found: %s (module loaded?)", CKPT_FAMILY_NAME,
		    strerror(-err));
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	id = tb[CTRL_ATTR_FAMILY_ID] ? *(uint16_t *)adata(tb[CTRL_ATTR_FAMILY_ID]) : 0;
	free(m);
	free(r);
	return id;
}

const char *errname(int err)
{
	const char *name = strerrorname_np(-err);

	return name ? name : "?";
}

void print_error(int err)
{
	printf("error errno=%s extack=\"%s\"", errname(err), last_extack);
	if (last_offs)
		printf(" offset=%u", last_offs);
	if (last_miss)
		printf(" missing=%u", last_miss);
	printf("\n");
}

/* ---- images ---- */
/*
 * The image file, mapped (not read into the heap: a restart run inside a
 * small memory cgroup must charge the kernel's staging, not our copy).
 */
char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st))
		die("%s: %s", path, strerror(errno));
	buf = mmap(NULL, st.st_size ? st.st_size : 1, PROT_READ, MAP_PRIVATE, fd, 0);
	if (buf == MAP_FAILED)
		die("%s: mmap: %s", path, strerror(errno));
	close(fd);
	*len = st.st_size;
	return buf;
}

/* enum ckpt_abort_reason as the protocol spells it (sink and checkpoint output). */
const char *abort_reason_name(uint32_t r)
{
	const char *const names[] = {
		"unspec", "sink-gone", "sink-timeout", "task-exited",
		"interrupted", "fault", "nomem", "unload", "exec",
		"requester-gone",
	};
	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
