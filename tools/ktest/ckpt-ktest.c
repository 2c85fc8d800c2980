// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-ktest: a small raw-netlink client of the ckpt family, for the kernel
 * tests. No libnl: every message is built and walked by hand here, so the
 * tests check the kernel against the protocol document, not against a
 * library that shares our assumptions.
 *
 *   ckpt-ktest sink PREFIX [--slow-ms N] [--rcvbuf B] [--streams K]
 *                          [--stall-ms N] [--die-after MSGS]
 *       register as the sink; write each stream's messages to PREFIX-CRID.img
 *       and check them (sequence, nesting, fragments, counts, CRC-32C);
 *       print one "stream ..." line per stream; exit after K streams.
 *       --slow-ms sleeps after every read, --stall-ms once after the 10th
 *       message, --die-after exits abruptly after that many messages.
 *   ckpt-ktest checkpoint PID [--stop] [--timeout MS]
 *   ckpt-ktest restart PID IMAGE [--validate-only] [--corrupt page|vma|seq|trailer]
 *   ckpt-ktest verify IMAGE PID     compare with /proc/PID/maps and /proc/PID/mem
 *   ckpt-ktest stats
 *   ckpt-ktest send CMD [NAME:TYPE=VALUE]...   any request, e.g. malformed:
 *       TYPE is u8, u32, u64, str or bin (VALUE = length), NAME an attribute
 *       name (pid, flags, restart-flags, timeout, rsid, seq, ...) or number.
 *
 * A failed request prints "error errno=NAME extack=\"...\"" and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../kernel-patch/include/uapi/linux/ckpt.h"

#define BUF_SIZE (256 * 1024)

static int fam_id;

static void die(const char *fmt, ...)
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

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_update(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- message building ---- */
struct msg {
	union {
		struct nlmsghdr nh;
		char buf[BUF_SIZE];
	};
	struct nlattr *nest;
};

static void msg_init(struct msg *m, int type, int cmd, int flags)
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

static void put(struct msg *m, int type, const void *data, size_t len)
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

static void put_u32(struct msg *m, int type, uint32_t v) { put(m, type, &v, 4); }
static void put_u64(struct msg *m, int type, uint64_t v) { put(m, type, &v, 8); }

/* ---- attribute walking ---- */
#define MAXA 64

static void parse(struct nlattr **tb, const void *p, int len)
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

static void *adata(const struct nlattr *a) { return (char *)a + NLA_HDRLEN; }
static int alen(const struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }
static uint32_t get_u32(const struct nlattr *a) { uint32_t v; memcpy(&v, adata(a), 4); return v; }
static uint64_t get_u64(const struct nlattr *a) { uint64_t v; memcpy(&v, adata(a), 8); return v; }

static void *gen_attrs(const struct nlmsghdr *nh) { return (char *)NLMSG_DATA(nh) + GENL_HDRLEN; }
static int gen_len(const struct nlmsghdr *nh) { return nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN; }
static int gen_cmd(const struct nlmsghdr *nh) { return ((struct genlmsghdr *)NLMSG_DATA(nh))->cmd; }

/* ---- socket, requests, errors ---- */
static int nl_open(int rcvbuf)
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

static char last_extack[512];
static uint32_t last_offs, last_miss;

/*
 * Sends @m and reads until its ack. A reply message is copied to @reply.
 * Returns 0 or -errno; the extack text is in last_extack.
 */
static int request(int fd, struct msg *m, struct msg *reply)
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
			struct nlmsgerr *e;
			struct nlattr *tb[MAXA];

			if (nh->nlmsg_seq != m->nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type != NLMSG_ERROR) {
				if (reply)
					memcpy(reply->buf, nh, nh->nlmsg_len);
				continue;
			}
			e = NLMSG_DATA(nh);
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
	}
}

static int resolve_family(int fd)
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

static void print_error(int err)
{
	printf("error errno=%s extack=\"%s\"", strerrorname_np(-err), last_extack);
	if (last_offs)
		printf(" offset=%u", last_offs);
	if (last_miss)
		printf(" missing=%u", last_miss);
	printf("\n");
}

/* ---- stream checking (the sink) ---- */
struct stream {
	uint64_t crid;
	uint32_t seq;		/* next expected */
	uint32_t last_id;
	uint32_t open[CKPT_DEPTH_MAX];
	int depth;
	uint32_t cur_id, cur_type;
	uint64_t cur_len, cur_off;
	uint64_t records, bytes, pages;
	uint32_t crc;
	FILE *out;
	bool done;
	char bad[200];
};

static struct stream streams[16];
static int nstreams;

static struct stream *stream_of(uint64_t crid)
{
	for (int i = 0; i < nstreams; i++)
		if (streams[i].crid == crid)
			return &streams[i];
	return NULL;
}

static void bad(struct stream *s, const char *fmt, ...)
{
	va_list ap;

	if (s->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->bad, sizeof(s->bad), fmt, ap);
	va_end(ap);
}

static void check_record(struct stream *s, struct nlattr **tb)
{
	uint32_t type, id, parent, len = 0;
	uint64_t dlen, off;
	int i;

	if (!tb[CKPT_A_REC_TYPE] || !tb[CKPT_A_REC_ID] || !tb[CKPT_A_REC_PARENT] ||
	    !tb[CKPT_A_DATA_LEN] || !tb[CKPT_A_DATA_OFFSET])
		return bad(s, "record without its attributes");
	type = get_u32(tb[CKPT_A_REC_TYPE]);
	id = get_u32(tb[CKPT_A_REC_ID]);
	parent = get_u32(tb[CKPT_A_REC_PARENT]);
	dlen = get_u64(tb[CKPT_A_DATA_LEN]);
	off = get_u64(tb[CKPT_A_DATA_OFFSET]);
	if (tb[CKPT_A_DATA])
		len = alen(tb[CKPT_A_DATA]);

	if (s->cur_off < s->cur_len) {
		if (id != s->cur_id || off != s->cur_off || tb[CKPT_A_META])
			return bad(s, "fragment of record %u expected at %" PRIu64,
				   s->cur_id, s->cur_off);
	} else {
		if (off || !tb[CKPT_A_META] || id <= s->last_id)
			return bad(s, "record %u: bad first fragment", id);
		if (parent) {
			for (i = 0; i < s->depth && s->open[i] != parent; i++)
				;
			if (i == s->depth)
				return bad(s, "record %u: parent %u not open", id, parent);
			s->depth = i + 1;
		} else {
			s->depth = 0;
		}
		if (s->depth >= CKPT_DEPTH_MAX)
			return bad(s, "record %u: too deep", id);
		s->open[s->depth++] = id;
		s->last_id = id;
		s->cur_id = id;
		s->cur_type = type;
		s->cur_len = dlen;
		s->cur_off = 0;
		s->records++;
		s->crc = crc_update(s->crc, adata(tb[CKPT_A_META]), alen(tb[CKPT_A_META]));
		s->bytes += alen(tb[CKPT_A_META]);
		if (type == CKPT_RECORD_TYPE_PAGES)
			s->pages += dlen / 4096;
	}
	if (len > CKPT_DATA_MAX || off + len > dlen || (dlen && !len))
		return bad(s, "record %u: data %u at %" PRIu64 " of %" PRIu64, id,
			   len, off, dlen);
	if (len) {
		s->crc = crc_update(s->crc, adata(tb[CKPT_A_DATA]), len);
		s->bytes += len;
		s->cur_off += len;
	}
}

static const char *abort_reason(uint32_t r)
{
	static const char *const names[] = {
		"unspec", "sink-gone", "sink-timeout", "task-exited",
		"interrupted", "fault", "nomem", "unload",
	};
	return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* One stream message: returns true when the stream finished. */
static bool sink_message(struct nlmsghdr *nh, const char *prefix)
{
	struct nlattr *tb[MAXA];
	struct stream *s;
	int cmd = gen_cmd(nh);
	uint64_t crid;

	parse(tb, gen_attrs(nh), gen_len(nh));
	if (!tb[CKPT_A_CRID] || !tb[CKPT_A_SEQ]) {
		printf("stream BAD: message %d without crid/seq\n", cmd);
		return true;
	}
	crid = get_u64(tb[CKPT_A_CRID]);
	s = stream_of(crid);
	if (cmd == CKPT_CMD_STREAM_BEGIN) {
		char path[512];

		if (s || nstreams == 16) {
			printf("stream crid=%" PRIu64 " BAD: begin twice\n", crid);
			return true;
		}
		s = &streams[nstreams++];
		memset(s, 0, sizeof(*s));
		s->crid = crid;
		s->crc = ~0U;
		snprintf(path, sizeof(path), "%s-%" PRIu64 ".img", prefix, crid);
		s->out = fopen(path, "w");
		if (!s->out)
			die("%s: %s", path, strerror(errno));
	} else if (!s) {
		printf("stream crid=%" PRIu64 " BAD: message %d before begin\n", crid, cmd);
		return true;
	}
	fwrite(nh, 1, nh->nlmsg_len, s->out);
	if (get_u32(tb[CKPT_A_SEQ]) != s->seq)
		bad(s, "seq %u, expected %u (loss)", get_u32(tb[CKPT_A_SEQ]), s->seq);
	s->seq++;

	switch (cmd) {
	case CKPT_CMD_STREAM_BEGIN:
		return false;
	case CKPT_CMD_RECORD:
		check_record(s, tb);
		return false;
	case CKPT_CMD_STREAM_END:
		if (!tb[CKPT_A_RECORDS] || !tb[CKPT_A_BYTES] || !tb[CKPT_A_CHECKSUM])
			bad(s, "end without counts");
		else if (get_u64(tb[CKPT_A_RECORDS]) != s->records ||
			 get_u64(tb[CKPT_A_BYTES]) != s->bytes ||
			 get_u32(tb[CKPT_A_CHECKSUM]) != ~s->crc)
			bad(s, "end counts differ: records %" PRIu64 "/%" PRIu64
			    " bytes %" PRIu64 "/%" PRIu64 " crc %08x/%08x",
			    s->records, get_u64(tb[CKPT_A_RECORDS]), s->bytes,
			    get_u64(tb[CKPT_A_BYTES]), ~s->crc,
			    get_u32(tb[CKPT_A_CHECKSUM]));
		if (s->bad[0])
			printf("stream crid=%" PRIu64 " BAD: %s\n", crid, s->bad);
		else
			printf("stream crid=%" PRIu64 " ok records=%" PRIu64 " bytes=%"
			       PRIu64 " pages=%" PRIu64 " checksum=%08x\n", crid,
			       s->records, s->bytes, s->pages, ~s->crc);
		break;
	case CKPT_CMD_STREAM_ABORT:
		printf("stream crid=%" PRIu64 " abort reason=%s message=\"%s\"%s%s\n",
		       crid,
		       tb[CKPT_A_REASON] ? abort_reason(get_u32(tb[CKPT_A_REASON])) : "none",
		       tb[CKPT_A_MESSAGE] ? (char *)adata(tb[CKPT_A_MESSAGE]) : "",
		       s->bad[0] ? " BAD: " : "", s->bad);
		break;
	default:
		bad(s, "unexpected command %d", cmd);
		return false;
	}
	fclose(s->out);
	s->done = true;
	return true;
}

static int cmd_sink(int argc, char **argv)
{
	int slow_ms = 0, rcvbuf = 0, want = 1, die_after = 0, done = 0, total = 0;
	int stall_ms = 0;
	static char rbuf[BUF_SIZE];
	const char *prefix;
	struct msg *m = calloc(1, sizeof(*m));
	int fd, err, i;

	if (argc < 1)
		die("sink PREFIX [options]");
	prefix = argv[0];
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--slow-ms") && i + 1 < argc)
			slow_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc)
			rcvbuf = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
			want = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--stall-ms") && i + 1 < argc)
			stall_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--die-after") && i + 1 < argc)
			die_after = atoi(argv[++i]);
		else
			die("sink: unknown option %s", argv[i]);
	}
	fd = nl_open(rcvbuf);
	fam_id = resolve_family(fd);
	msg_init(m, fam_id, CKPT_CMD_SINK_REGISTER, 0);
	err = request(fd, m, NULL);
	if (err) {
		print_error(err);
		return 1;
	}
	printf("sink ready\n");
	fflush(stdout);

	while (done < want) {
		int n = recv(fd, rbuf, sizeof(rbuf), 0);
		struct nlmsghdr *nh;

		if (n < 0) {
			if (errno == ENOBUFS) {
				printf("stream BAD: ENOBUFS (messages lost)\n");
				return 1;
			}
			die("recv: %s", strerror(errno));
		}
		for (nh = (void *)rbuf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type != fam_id)
				continue;
			if (sink_message(nh, prefix))
				done++;
			if (++total == 10 && stall_ms) {
				printf("sink stalling %d ms\n", stall_ms);
				fflush(stdout);
				usleep(stall_ms * 1000);
			}
			if (die_after && total == die_after) {
				printf("sink dying after %d messages\n", total);
				fflush(stdout);
				_exit(3);
			}
		}
		fflush(stdout);
		if (slow_ms)
			usleep(slow_ms * 1000);
	}
	for (i = 0; i < nstreams; i++)
		if (streams[i].bad[0])
			return 1;
	return 0;
}

/* ---- requests ---- */
static int cmd_checkpoint(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	struct nlattr *tb[MAXA];
	uint32_t flags = 0, timeout = 0;
	int fd, err, i;

	if (argc < 1)
		die("checkpoint PID [--stop] [--timeout MS]");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stop"))
			flags |= CKPT_CHECKPOINT_FLAGS_STOP;
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = atoi(argv[++i]);
		else
			die("checkpoint: unknown option %s", argv[i]);
	}
	fd = nl_open(0);
	fam_id = resolve_family(fd);
	msg_init(m, fam_id, CKPT_CMD_CHECKPOINT, 0);
	put_u32(m, CKPT_A_PID, atoi(argv[0]));
	if (flags)
		put_u32(m, CKPT_A_CHECKPOINT_FLAGS, flags);
	if (timeout)
		put_u32(m, CKPT_A_TIMEOUT_MS, timeout);
	err = request(fd, m, r);
	if (err) {
		print_error(err);
		return 1;
	}
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	if (!tb[CKPT_A_CRID] || !tb[CKPT_A_RECORDS] || !tb[CKPT_A_BYTES] ||
	    !tb[CKPT_A_CHECKSUM])
		die("checkpoint reply without crid/records/bytes/checksum");
	printf("ok crid=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
	       " checksum=%08x\n", get_u64(tb[CKPT_A_CRID]),
	       get_u64(tb[CKPT_A_RECORDS]), get_u64(tb[CKPT_A_BYTES]),
	       get_u32(tb[CKPT_A_CHECKSUM]));
	return 0;
}

static int cmd_stats(void)
{
	static const char *const names[] = {
		[CKPT_A_STATS_STREAMS] = "streams", [CKPT_A_STATS_RECORDS] = "records",
		[CKPT_A_STATS_BYTES] = "bytes", [CKPT_A_STATS_ABORTS] = "aborts",
		[CKPT_A_STATS_WAIT_NS] = "wait-ns", [CKPT_A_STATS_RESTARTS] = "restarts",
		[CKPT_A_STATS_RESTART_REJECTS] = "restart-rejects",
	};
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	struct nlattr *tb[MAXA], *st[MAXA];
	int fd = nl_open(0), err, i;

	fam_id = resolve_family(fd);
	msg_init(m, fam_id, CKPT_CMD_STATS_GET, 0);
	err = request(fd, m, r);
	if (err) {
		print_error(err);
		return 1;
	}
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	if (!tb[CKPT_A_STATS])
		die("stats reply without stats");
	parse(st, adata(tb[CKPT_A_STATS]), alen(tb[CKPT_A_STATS]));
	for (i = CKPT_A_STATS_STREAMS; i <= CKPT_A_STATS_MAX; i++)
		if (st[i])
			printf("%s=%" PRIu64 " ", names[i], get_u64(st[i]));
	printf("\n");
	return 0;
}

/* ---- images ---- */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		die("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	if (fread(buf, 1, n, f) != (size_t)n)
		die("%s: short read", path);
	fclose(f);
	*len = n;
	return buf;
}

#define for_each_msg(nh, buf, len)					\
	for (nh = (void *)(buf); (char *)nh + NLMSG_HDRLEN <= (buf) + (len) && \
	     nh->nlmsg_len >= NLMSG_HDRLEN &&				\
	     (char *)nh + nh->nlmsg_len <= (buf) + (len);		\
	     nh = (void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len)))

static int cmd_restart(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	const char *corrupt = "";
	bool validate = false, corrupted = false;
	struct nlattr *tb[MAXA], *end[MAXA] = { 0 };
	uint32_t rsid, seq = 0;
	struct nlmsghdr *nh;
	int fd, err, i, n = 0;
	size_t len;
	char *img;

	if (argc < 2)
		die("restart PID IMAGE [--validate-only] [--corrupt KIND]");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--validate-only"))
			validate = true;
		else if (!strcmp(argv[i], "--corrupt") && i + 1 < argc)
			corrupt = argv[++i];
		else
			die("restart: unknown option %s", argv[i]);
	}
	img = read_file(argv[1], &len);
	fd = nl_open(0);
	fam_id = resolve_family(fd);

	msg_init(m, fam_id, CKPT_CMD_RESTART_BEGIN, 0);
	put_u32(m, CKPT_A_PID, atoi(argv[0]));
	if (validate)
		put_u32(m, CKPT_A_RESTART_FLAGS, CKPT_RESTART_FLAGS_VALIDATE_ONLY);
	err = request(fd, m, r);
	if (err) {
		printf("begin: ");
		print_error(err);
		return 1;
	}
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	if (!tb[CKPT_A_RSID])
		die("restart-begin reply without rsid");
	rsid = get_u32(tb[CKPT_A_RSID]);

	for_each_msg(nh, img, len) {
		if (gen_cmd(nh) == CKPT_CMD_STREAM_END)
			parse(end, gen_attrs(nh), gen_len(nh));
		if (gen_cmd(nh) != CKPT_CMD_RECORD)
			continue;
		parse(tb, gen_attrs(nh), gen_len(nh));
		msg_init(m, fam_id, CKPT_CMD_RESTART_RECORD, 0);
		put_u32(m, CKPT_A_RSID, rsid);
		put_u32(m, CKPT_A_SEQ, seq++);
		if (!strcmp(corrupt, "seq") && !corrupted && seq == 5) {
			m->nh.nlmsg_len -= NLA_HDRLEN + 4;
			put_u32(m, CKPT_A_SEQ, seq + 1);
			corrupted = true;
		}
		for (i = CKPT_A_REC_TYPE; i <= CKPT_A_DATA; i++) {
			if (!tb[i])
				continue;
			put(m, tb[i]->nla_type, adata(tb[i]), alen(tb[i]));
		}
		/* The copied attributes now sit in m: corrupt them there. */
		parse(tb, gen_attrs(&m->nh), gen_len(&m->nh));
		if (!corrupted && tb[CKPT_A_META]) {
			struct nlattr *meta[MAXA];
			uint32_t type = get_u32(tb[CKPT_A_REC_TYPE]);

			parse(meta, adata(tb[CKPT_A_META]), alen(tb[CKPT_A_META]));
			if (!strcmp(corrupt, "vma") && type == CKPT_RECORD_TYPE_VMA &&
			    meta[CKPT_A_META_END]) {
				uint64_t v = get_u64(meta[CKPT_A_META_END]) + 4096;

				memcpy(adata(meta[CKPT_A_META_END]), &v, 8);
				corrupted = true;
			} else if (!strcmp(corrupt, "trailer") &&
				   type == CKPT_RECORD_TYPE_TRAILER) {
				uint32_t v = get_u32(meta[CKPT_A_META_NR_VMAS]) + 1;

				memcpy(adata(meta[CKPT_A_META_NR_VMAS]), &v, 4);
				corrupted = true;
			}
		}
		if (!corrupted && !strcmp(corrupt, "page") && tb[CKPT_A_DATA] &&
		    get_u32(tb[CKPT_A_REC_TYPE]) == CKPT_RECORD_TYPE_PAGES) {
			((unsigned char *)adata(tb[CKPT_A_DATA]))[0] ^= 0xff;
			corrupted = true;
		}
		n++;
		err = request(fd, m, NULL);
		if (err) {
			printf("record message %d: ", n);
			print_error(err);
			return 1;
		}
	}
	if (!end[CKPT_A_RECORDS])
		die("%s: no stream end message (aborted stream?)", argv[1]);
	msg_init(m, fam_id, CKPT_CMD_RESTART_COMMIT, 0);
	put_u32(m, CKPT_A_RSID, rsid);
	put_u32(m, CKPT_A_SEQ, seq);
	put_u64(m, CKPT_A_RECORDS, get_u64(end[CKPT_A_RECORDS]));
	put_u64(m, CKPT_A_BYTES, get_u64(end[CKPT_A_BYTES]));
	put_u32(m, CKPT_A_CHECKSUM, get_u32(end[CKPT_A_CHECKSUM]));
	err = request(fd, m, r);
	if (err) {
		printf("commit: ");
		print_error(err);
		return 1;
	}
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	printf("ok %s records=%" PRIu64 " bytes=%" PRIu64 " messages=%d\n",
	       validate ? "validated" : "restored",
	       tb[CKPT_A_RECORDS] ? get_u64(tb[CKPT_A_RECORDS]) : 0,
	       tb[CKPT_A_BYTES] ? get_u64(tb[CKPT_A_BYTES]) : 0, n);
	return 0;
}

/* Every vma equals a line of /proc/PID/maps, every page /proc/PID/mem. */
static int cmd_verify(int argc, char **argv)
{
	char path[64], line[1024], *img, *page_buf;
	int nvma = 0, nmaps = 0, mem;
	uint64_t pages = 0, pending_addr = 0, pending_left = 0;
	struct nlmsghdr *nh;
	FILE *maps;
	size_t len;

	if (argc < 2)
		die("verify IMAGE PID");
	img = read_file(argv[0], &len);
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	mem = open(path, O_RDONLY);
	if (!maps || mem < 0)
		die("cannot open /proc/%s/{maps,mem}: %s", argv[1], strerror(errno));
	page_buf = malloc(CKPT_DATA_MAX);

	for_each_msg(nh, img, len) {
		struct nlattr *tb[MAXA], *meta[MAXA];
		uint32_t type;

		if (gen_cmd(nh) != CKPT_CMD_RECORD)
			continue;
		parse(tb, gen_attrs(nh), gen_len(nh));
		type = get_u32(tb[CKPT_A_REC_TYPE]);
		if (tb[CKPT_A_META])
			parse(meta, adata(tb[CKPT_A_META]), alen(tb[CKPT_A_META]));
		if (type == CKPT_RECORD_TYPE_VMA) {
			unsigned long s, e;

			do {
				if (!fgets(line, sizeof(line), maps)) {
					printf("verify FAIL: vma %d not in maps\n", nvma);
					return 1;
				}
				nmaps++;
			} while (strstr(line, "[vsyscall]"));
			sscanf(line, "%lx-%lx", &s, &e);
			if (s != get_u64(meta[CKPT_A_META_START]) ||
			    e != get_u64(meta[CKPT_A_META_END])) {
				printf("verify FAIL: vma %" PRIx64 "-%" PRIx64 " vs maps %s",
				       get_u64(meta[CKPT_A_META_START]),
				       get_u64(meta[CKPT_A_META_END]), line);
				return 1;
			}
			nvma++;
		} else if (type == CKPT_RECORD_TYPE_PAGES) {
			int n;

			if (tb[CKPT_A_META]) {
				pending_addr = get_u64(meta[CKPT_A_META_ADDR]);
				pending_left = get_u64(tb[CKPT_A_DATA_LEN]);
				pages += pending_left / 4096;
			}
			n = alen(tb[CKPT_A_DATA]);
			if (pread(mem, page_buf, n, pending_addr +
				  get_u64(tb[CKPT_A_DATA_OFFSET])) != n ||
			    memcmp(page_buf, adata(tb[CKPT_A_DATA]), n)) {
				printf("verify FAIL: pages at %" PRIx64 "+%" PRIu64
				       " differ from /proc/PID/mem\n", pending_addr,
				       get_u64(tb[CKPT_A_DATA_OFFSET]));
				return 1;
			}
		}
	}
	while (fgets(line, sizeof(line), maps))
		if (!strstr(line, "[vsyscall]")) {
			printf("verify FAIL: maps line not in image: %s", line);
			return 1;
		}
	printf("verify ok vmas=%d pages=%" PRIu64 "\n", nvma, pages);
	return 0;
}

/* ---- send: any request, for malformed input ---- */
static const struct { const char *name; int nr; } attr_names[] = {
	{ "pid", CKPT_A_PID }, { "flags", CKPT_A_CHECKPOINT_FLAGS },
	{ "restart-flags", CKPT_A_RESTART_FLAGS }, { "timeout", CKPT_A_TIMEOUT_MS },
	{ "crid", CKPT_A_CRID }, { "seq", CKPT_A_SEQ }, { "rec-type", CKPT_A_REC_TYPE },
	{ "rec-id", CKPT_A_REC_ID }, { "rec-parent", CKPT_A_REC_PARENT },
	{ "data-len", CKPT_A_DATA_LEN }, { "data-offset", CKPT_A_DATA_OFFSET },
	{ "meta", CKPT_A_META }, { "data", CKPT_A_DATA }, { "records", CKPT_A_RECORDS },
	{ "bytes", CKPT_A_BYTES }, { "checksum", CKPT_A_CHECKSUM },
	{ "rsid", CKPT_A_RSID }, { "stats", CKPT_A_STATS },
};

static const struct { const char *name; int cmd; } cmd_names[] = {
	{ "sink-register", CKPT_CMD_SINK_REGISTER },
	{ "sink-unregister", CKPT_CMD_SINK_UNREGISTER },
	{ "checkpoint", CKPT_CMD_CHECKPOINT }, { "stream-begin", CKPT_CMD_STREAM_BEGIN },
	{ "record", CKPT_CMD_RECORD }, { "restart-begin", CKPT_CMD_RESTART_BEGIN },
	{ "restart-record", CKPT_CMD_RESTART_RECORD },
	{ "restart-commit", CKPT_CMD_RESTART_COMMIT },
	{ "restart-abort", CKPT_CMD_RESTART_ABORT }, { "stats-get", CKPT_CMD_STATS_GET },
};

static int cmd_send(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m));
	int fd, err, cmd = -1, i, j;

	if (argc < 1)
		die("send CMD [NAME:TYPE=VALUE]...");
	for (j = 0; j < (int)(sizeof(cmd_names) / sizeof(cmd_names[0])); j++)
		if (!strcmp(argv[0], cmd_names[j].name))
			cmd = cmd_names[j].cmd;
	if (cmd < 0)
		cmd = atoi(argv[0]);
	fd = nl_open(0);
	fam_id = resolve_family(fd);
	msg_init(m, fam_id, cmd, 0);
	for (i = 1; i < argc; i++) {
		char name[64], type[16];
		const char *val;
		int nr = -1;

		if (sscanf(argv[i], "%63[^:]:%15[^=]=", name, type) != 2 ||
		    !(val = strchr(argv[i], '=')))
			die("bad attribute %s (NAME:TYPE=VALUE)", argv[i]);
		val++;
		for (j = 0; j < (int)(sizeof(attr_names) / sizeof(attr_names[0])); j++)
			if (!strcmp(name, attr_names[j].name))
				nr = attr_names[j].nr;
		if (nr < 0)
			nr = atoi(name);
		if (!strcmp(type, "u8")) {
			uint8_t v = strtoul(val, NULL, 0);

			put(m, nr, &v, 1);
		} else if (!strcmp(type, "u32")) {
			put_u32(m, nr, strtoul(val, NULL, 0));
		} else if (!strcmp(type, "u64")) {
			put_u64(m, nr, strtoull(val, NULL, 0));
		} else if (!strcmp(type, "str")) {
			put(m, nr, val, strlen(val) + 1);
		} else if (!strcmp(type, "bin")) {
			size_t n = strtoul(val, NULL, 0);
			char *z = calloc(1, n + 1);

			put(m, nr, z, n);
			free(z);
		} else {
			die("unknown type %s", type);
		}
	}
	err = request(fd, m, NULL);
	if (err) {
		print_error(err);
		return 1;
	}
	printf("ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	if (argc < 2)
		die("usage: sink|checkpoint|restart|verify|stats|send ... (see the source)");
	if (!strcmp(argv[1], "sink"))
		return cmd_sink(argc - 2, argv + 2);
	if (!strcmp(argv[1], "checkpoint"))
		return cmd_checkpoint(argc - 2, argv + 2);
	if (!strcmp(argv[1], "restart"))
		return cmd_restart(argc - 2, argv + 2);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats();
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 2, argv + 2);
	die("unknown command %s", argv[1]);
}
