// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-ktest sink: register as the capture sink and check every stream
 * against the protocol (sequence, nesting, fragments, counts, CRC-32C),
 * writing each to PREFIX-CRID.img.
 */
#define _GNU_SOURCE
#include "ktest.h"

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
		/* Each fragment's own checksum, beside the stream's. */
		if (!tb[CKPT_A_DATA_CHECKSUM] ||
		    get_u32(tb[CKPT_A_DATA_CHECKSUM]) !=
		    ~crc_update(~0U, adata(tb[CKPT_A_DATA]), len))
			return bad(s, "record %u: data checksum at %" PRIu64
				   " missing or wrong", id, off);
		s->crc = crc_update(s->crc, adata(tb[CKPT_A_DATA]), len);
		s->bytes += len;
		s->cur_off += len;
	} else if (tb[CKPT_A_DATA_CHECKSUM]) {
		return bad(s, "record %u: a data checksum without data", id);
	}
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
		/* For scenarios that act while a stream runs (exec race). */
		printf("stream crid=%" PRIu64 " begun\n", crid);
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
		       tb[CKPT_A_REASON] ? abort_reason_name(get_u32(tb[CKPT_A_REASON])) : "none",
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

/*
 * --raw recv|splice FILE: no checks; every datagram's bytes go into FILE until
 * the first stream ends. What a sink's copy out of the socket costs: recv()
 * copies with copy_to_user(), which a CPU with ERMS runs as `rep movsb` (a
 * byte per step under qemu's TCG); splice() into a pipe copies with the
 * kernel's memcpy() (netlink has no splice_read: copy_splice_read()), then
 * the header is read and the rest spliced on into FILE. tools/bench
 * (sink-copy) times a checkpoint's freeze with each.
 */
static int sink_raw(int fd, const char *how, const char *path)
{
	static char rbuf[BUF_SIZE];
	char hdr[NLMSG_HDRLEN + GENL_HDRLEN];
	long long bytes = 0, msgs = 0;
	bool by_splice = !strcmp(how, "splice");
	int out, p[2], cmd;
	ssize_t n, k;

	if (!by_splice && strcmp(how, "recv"))
		die("sink --raw recv|splice FILE");
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		die("%s: %s", path, strerror(errno));
	if (by_splice && (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0))
		die("pipe: %s", strerror(errno));
	do {
		if (by_splice) {
			n = splice(fd, NULL, p[1], NULL, BUF_SIZE, 0);
			if (n < (ssize_t)sizeof(hdr) ||
			    read(p[0], hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
				die("splice from the socket: %zd, %s", n, strerror(errno));
			if (write(out, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
				die("write: %s", strerror(errno));
			for (k = n - sizeof(hdr); k > 0; k -= n) {
				n = splice(p[0], NULL, out, NULL, k, SPLICE_F_MOVE);
				if (n <= 0)
					die("splice to %s: %s", path, strerror(errno));
			}
			cmd = ((struct genlmsghdr *)(hdr + NLMSG_HDRLEN))->cmd;
			bytes += ((struct nlmsghdr *)hdr)->nlmsg_len;
		} else {
			n = recv(fd, rbuf, sizeof(rbuf), 0);
			if (n < (ssize_t)sizeof(hdr))
				die("recv: %zd, %s", n, strerror(errno));
			if (write(out, rbuf, n) != n)
				die("write: %s", strerror(errno));
			cmd = gen_cmd((struct nlmsghdr *)rbuf);
			bytes += n;
		}
		msgs++;
	} while (cmd != CKPT_CMD_STREAM_END && cmd != CKPT_CMD_STREAM_ABORT);
	printf("raw %s: %lld messages, %lld bytes, %s\n", how, msgs, bytes,
	       cmd == CKPT_CMD_STREAM_END ? "end" : "abort");
	return cmd == CKPT_CMD_STREAM_END ? 0 : 1;
}

int cmd_sink(int argc, char **argv)
{
	int slow_ms = 0, rcvbuf = 0, want = 1, die_after = 0, done = 0, total = 0;
	int stall_ms = 0, grow_rcvbuf = 0;
	const char *raw = NULL;
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
		else if (!strcmp(argv[i], "--grow-rcvbuf") && i + 1 < argc)
			grow_rcvbuf = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--raw") && i + 1 < argc)
			raw = argv[++i];
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
	if (raw)
		return sink_raw(fd, raw, prefix);

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
			/* A buffer grown mid-stream: more queued than the
			 * stream sized its page ring for at admission. */
			if (total == 0 && grow_rcvbuf &&
			    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &grow_rcvbuf,
				       sizeof(grow_rcvbuf)))
				die("SO_RCVBUFFORCE: %s", strerror(errno));
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
