/* sender: emits valid ckpt capture streams to a NETLINK_USERSOCK port with blocking
 * sendmsg, the one sender for every contender of tools/bench/run.
 *
 * Each stream (crid = --crid + i):
 *   STREAM_BEGIN {crid, seq 0, pid}
 *   record 1 header  (root)      meta: arch "x86_64", page-size 4096, release, time-ns
 *   record 2 task    (root)      meta: pid tgid ppid comm uid gid euid egid
 *   record 3 mm      (task)      meta: start-code .. env-end
 *   record 4 vma     (mm)        meta: start end vm-flags pgoff
 *   record 5.. pages (vma)       meta: addr nr-pages (<= CKPT_PAGES_RUN_MAX), data split
 *                                into fragments of --frag bytes (65531 = CKPT_DATA_MAX max)
 *   record N trailer (root)      meta: nr-threads 0, nr-vmas 1, nr-pages-total, nr-files 0
 *   STREAM_END {crid, seq, records, bytes, checksum (CRC-32C of meta payloads + data)}
 * With --streams K, the K streams' messages are interleaved round-robin, one message each.
 * Page data is a pure function of --seed (a 16 MiB xorshift pattern read at a per-stream
 * offset), sent straight from that pattern (iovec, no copy in userspace). Attributes are
 * in the kernel's order, u64s unpadded as on x86-64; unlike the kernel's, a fragment
 * carries no CKPT_A_DATA_CHECKSUM (a second CRC pass here would slow the sender).
 *
 * Prints (stdout): t_start_ns (CLOCK_REALTIME, before the first send), t_end_ns (after
 * the last), messages, data bytes, and per stream its crid and checksum. */
#include "common.h"
#include <getopt.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <nmmintrin.h>

#define PAGE 4096u
#define PAT_SIZE (16u << 20)
#define PAT_EXTRA ((size_t)CKPT_PAGES_RUN_MAX * PAGE)

static uint8_t *pattern; /* PAT_SIZE + PAT_EXTRA: any record's data is one contiguous slice */

__attribute__((target("sse4.2")))
static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}

/* ---- message building ---------------------------------------------------------- */

struct mb {
	_Alignas(8) uint8_t buf[8192];
	size_t len;
};

static void *mb_put(struct mb *m, size_t n)
{
	void *p = m->buf + m->len;
	memset(p, 0, NLA_ALIGN(n));
	m->len += NLA_ALIGN(n);
	return p;
}

static void mb_begin(struct mb *m, uint8_t cmd)
{
	m->len = 0;
	struct nlmsghdr *h = mb_put(m, NLMSG_HDRLEN);
	h->nlmsg_type = CKPT_USERSOCK_TYPE;
	h->nlmsg_flags = 0;
	struct genlmsghdr *g = mb_put(m, GENL_HDRLEN);
	g->cmd = cmd;
	g->version = CKPT_FAMILY_VERSION;
}

static void nla(struct mb *m, int type, const void *data, size_t n)
{
	struct nlattr *a = mb_put(m, NLA_HDRLEN + n);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + n;
	if (n)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, n);
}

static void nla_u32(struct mb *m, int type, uint32_t v) { nla(m, type, &v, 4); }
static void nla_str(struct mb *m, int type, const char *s) { nla(m, type, s, strlen(s) + 1); }

/* nla_put_u64_64bit as the x86-64 kernel runs it: no pad attribute (the kernel puts one
 * only where unaligned access is slow), so a record message is laid out as the kernel's
 * are and the listener reads it at fixed offsets (RecordFastPath's KernelLayout) as it
 * does the kernel's. */
static void nla_u64(struct mb *m, int type, uint64_t v) { nla(m, type, &v, 8); }

static size_t nest_begin(struct mb *m, int type)
{
	size_t at = m->len;
	struct nlattr *a = mb_put(m, NLA_HDRLEN);
	a->nla_type = type | NLA_F_NESTED;
	return at;
}

static void nest_end(struct mb *m, size_t at)
{
	((struct nlattr *)(m->buf + at))->nla_len = m->len - at;
}

/* ---- streams ------------------------------------------------------------------- */

enum phase { P_BEGIN, P_HEADER, P_TASK, P_MM, P_VMA, P_PAGES, P_TRAILER, P_END, P_DONE };

struct stream {
	uint64_t crid;
	uint32_t seq, next_id;
	enum phase phase;
	uint64_t total_pages, pages_started;
	/* current pages record */
	uint32_t rec_id, nr_pages;
	uint64_t data_len, data_off, addr;
	const uint8_t *data;
	size_t salt;
	/* accounting, as the header defines it */
	uint64_t records, bytes;
	uint32_t crc;
};

static struct {
	uint32_t frag;
	struct utsname uts;
} cfg;

#define VMA_START 0x7f0000000000ull

static void rec_head(struct mb *m, struct stream *s, uint32_t type, uint32_t id, uint32_t parent, uint64_t dlen,
		     uint64_t doff)
{
	nla_u64(m, CKPT_A_CRID, s->crid);
	nla_u32(m, CKPT_A_SEQ, s->seq);
	nla_u32(m, CKPT_A_REC_TYPE, type);
	nla_u32(m, CKPT_A_REC_ID, id);
	nla_u32(m, CKPT_A_REC_PARENT, parent);
	nla_u64(m, CKPT_A_DATA_LEN, dlen);
	nla_u64(m, CKPT_A_DATA_OFFSET, doff);
}

/* Closes a META nest: counts and checksums its payload (the record's meta bytes). */
static void meta_end(struct mb *m, struct stream *s, size_t at)
{
	nest_end(m, at);
	size_t plen = m->len - at - NLA_HDRLEN;
	s->bytes += plen;
	s->crc = crc32c(s->crc, m->buf + at + NLA_HDRLEN, plen);
	s->records++;
}

/* Builds the stream's next message; data (if any) goes to data and dlen (not copied). */
static void next_message(struct stream *s, struct mb *m, const void **data, size_t *dlen)
{
	*data = NULL;
	*dlen = 0;
	size_t nest;
	switch (s->phase) {
	case P_BEGIN:
		mb_begin(m, CKPT_CMD_STREAM_BEGIN);
		nla_u64(m, CKPT_A_CRID, s->crid);
		nla_u32(m, CKPT_A_SEQ, s->seq);
		nla_u32(m, CKPT_A_PID, getpid());
		s->phase = P_HEADER;
		break;
	case P_HEADER:
		mb_begin(m, CKPT_CMD_RECORD);
		rec_head(m, s, CKPT_RECORD_TYPE_HEADER, 1, 0, 0, 0);
		nest = nest_begin(m, CKPT_A_META);
		nla_str(m, CKPT_A_META_ARCH, "x86_64");
		nla_u32(m, CKPT_A_META_PAGE_SIZE, PAGE);
		nla_str(m, CKPT_A_META_RELEASE, cfg.uts.release);
		nla_u64(m, CKPT_A_META_TIME_NS, now_ns(CLOCK_REALTIME));
		meta_end(m, s, nest);
		s->phase = P_TASK;
		break;
	case P_TASK:
		mb_begin(m, CKPT_CMD_RECORD);
		rec_head(m, s, CKPT_RECORD_TYPE_TASK, 2, 0, 0, 0);
		nest = nest_begin(m, CKPT_A_META);
		nla_u32(m, CKPT_A_META_PID, getpid());
		nla_u32(m, CKPT_A_META_TGID, getpid());
		nla_u32(m, CKPT_A_META_PPID, getppid());
		nla_str(m, CKPT_A_META_COMM, "bench-sender");
		nla_u32(m, CKPT_A_META_UID, getuid());
		nla_u32(m, CKPT_A_META_GID, getgid());
		nla_u32(m, CKPT_A_META_EUID, geteuid());
		nla_u32(m, CKPT_A_META_EGID, getegid());
		meta_end(m, s, nest);
		s->phase = P_MM;
		break;
	case P_MM: {
		mb_begin(m, CKPT_CMD_RECORD);
		rec_head(m, s, CKPT_RECORD_TYPE_MM, 3, 2, 0, 0);
		nest = nest_begin(m, CKPT_A_META);
		static const int f[] = { CKPT_A_META_START_CODE, CKPT_A_META_END_CODE, CKPT_A_META_START_DATA,
					 CKPT_A_META_END_DATA, CKPT_A_META_START_BRK, CKPT_A_META_BRK,
					 CKPT_A_META_START_STACK, CKPT_A_META_ARG_START, CKPT_A_META_ARG_END,
					 CKPT_A_META_ENV_START, CKPT_A_META_ENV_END };
		for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			nla_u64(m, f[i], 0x400000ull + i * 0x10000ull);
		meta_end(m, s, nest);
		s->phase = P_VMA;
		break;
	}
	case P_VMA:
		mb_begin(m, CKPT_CMD_RECORD);
		rec_head(m, s, CKPT_RECORD_TYPE_VMA, 4, 3, 0, 0);
		nest = nest_begin(m, CKPT_A_META);
		nla_u64(m, CKPT_A_META_START, VMA_START);
		nla_u64(m, CKPT_A_META_END, VMA_START + s->total_pages * PAGE);
		nla_u64(m, CKPT_A_META_VM_FLAGS, 0x33); /* read write mayread maywrite */
		nla_u64(m, CKPT_A_META_PGOFF, 0);
		meta_end(m, s, nest);
		s->next_id = 5;
		s->phase = s->total_pages ? P_PAGES : P_TRAILER;
		s->data_len = 0;
		break;
	case P_PAGES: {
		mb_begin(m, CKPT_CMD_RECORD);
		int first = s->data_len == 0;
		if (first) { /* open the next run */
			uint64_t left = s->total_pages - s->pages_started;
			s->nr_pages = left < CKPT_PAGES_RUN_MAX ? left : CKPT_PAGES_RUN_MAX;
			s->rec_id = s->next_id++;
			s->data_len = (uint64_t)s->nr_pages * PAGE;
			s->data_off = 0;
			s->addr = VMA_START + s->pages_started * PAGE;
			s->data = pattern + (s->pages_started * PAGE + s->salt) % PAT_SIZE;
			s->pages_started += s->nr_pages;
		}
		rec_head(m, s, CKPT_RECORD_TYPE_PAGES, s->rec_id, 4, s->data_len, s->data_off);
		if (first) {
			nest = nest_begin(m, CKPT_A_META);
			nla_u64(m, CKPT_A_META_ADDR, s->addr);
			nla_u32(m, CKPT_A_META_NR_PAGES, s->nr_pages);
			meta_end(m, s, nest);
		}
		uint64_t n = s->data_len - s->data_off;
		if (n > cfg.frag)
			n = cfg.frag;
		*data = s->data + s->data_off;
		*dlen = n;
		s->crc = crc32c(s->crc, *data, n);
		s->bytes += n;
		struct nlattr *a = mb_put(m, NLA_HDRLEN);
		a->nla_type = CKPT_A_DATA;
		a->nla_len = NLA_HDRLEN + n;
		s->data_off += n;
		if (s->data_off == s->data_len) {
			s->data_len = 0;
			if (s->pages_started == s->total_pages)
				s->phase = P_TRAILER;
		}
		break;
	}
	case P_TRAILER:
		mb_begin(m, CKPT_CMD_RECORD);
		rec_head(m, s, CKPT_RECORD_TYPE_TRAILER, s->next_id++, 0, 0, 0);
		nest = nest_begin(m, CKPT_A_META);
		nla_u32(m, CKPT_A_META_NR_THREADS, 0);
		nla_u32(m, CKPT_A_META_NR_VMAS, 1);
		nla_u64(m, CKPT_A_META_NR_PAGES_TOTAL, s->total_pages);
		nla_u32(m, CKPT_A_META_NR_FILES, 0);
		meta_end(m, s, nest);
		s->phase = P_END;
		break;
	case P_END:
		mb_begin(m, CKPT_CMD_STREAM_END);
		nla_u64(m, CKPT_A_CRID, s->crid);
		nla_u32(m, CKPT_A_SEQ, s->seq);
		nla_u64(m, CKPT_A_RECORDS, s->records);
		nla_u64(m, CKPT_A_BYTES, s->bytes);
		nla_u32(m, CKPT_A_CHECKSUM, ~s->crc);
		s->phase = P_DONE;
		break;
	case P_DONE:
		abort();
	}
	struct nlmsghdr *h = (void *)m->buf;
	h->nlmsg_seq = s->seq++;
	h->nlmsg_len = m->len + NLA_ALIGN(*dlen);
}

static void usage(void)
{
	fprintf(stderr, "usage: sender --port N [--bytes B] [--frag F] [--streams K] [--seed S] [--crid C]\n"
			"  --bytes   page data per stream (rounded up to pages; default 64M; suffixes K M G)\n"
			"  --frag    data bytes per fragment, 1..%d (default 32768)\n"
			"  --streams concurrent streams, interleaved round-robin (default 1)\n",
		CKPT_DATA_MAX);
	exit(64);
}

static uint64_t parse_size(const char *s)
{
	char *e;
	uint64_t v = strtoull(s, &e, 0);
	switch (*e) {
	case 'G': case 'g': v <<= 10; /* fallthrough */
	case 'M': case 'm': v <<= 10; /* fallthrough */
	case 'K': case 'k': v <<= 10; break;
	case 0: break;
	default: usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	uint32_t port = 0;
	uint64_t bytes = 64ull << 20, seed = 1, crid = 1;
	int nstreams = 1;
	cfg.frag = 32768;
	static const struct option opts[] = {
		{ "port", 1, 0, 'p' }, { "bytes", 1, 0, 'b' }, { "frag", 1, 0, 'f' },
		{ "streams", 1, 0, 'n' }, { "seed", 1, 0, 's' }, { "crid", 1, 0, 'c' }, { 0 } };
	for (int c; (c = getopt_long(argc, argv, "p:b:f:n:s:c:", opts, NULL)) != -1;) {
		switch (c) {
		case 'p': port = strtoul(optarg, 0, 0); break;
		case 'b': bytes = parse_size(optarg); break;
		case 'f': cfg.frag = parse_size(optarg); break;
		case 'n': nstreams = atoi(optarg); break;
		case 's': seed = strtoull(optarg, 0, 0); break;
		case 'c': crid = strtoull(optarg, 0, 0); break;
		default: usage();
		}
	}
	if (!port || cfg.frag < 1 || cfg.frag > CKPT_DATA_MAX || nstreams < 1)
		usage();
	uname(&cfg.uts);

	pattern = aligned_alloc(4096, PAT_SIZE + PAT_EXTRA);
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	for (size_t i = 0; i < PAT_SIZE; i += 8) {
		x ^= x >> 12; x ^= x << 25; x ^= x >> 27; /* xorshift64* */
		uint64_t v = x * 0x2545F4914F6CDD1Dull;
		memcpy(pattern + i, &v, 8);
	}
	memcpy(pattern + PAT_SIZE, pattern, PAT_EXTRA);

	struct stream *st = calloc(nstreams, sizeof(*st));
	uint64_t pages = (bytes + PAGE - 1) / PAGE;
	for (int i = 0; i < nstreams; i++) {
		st[i].crid = crid + i;
		st[i].total_pages = pages;
		st[i].crc = ~0u;
		st[i].salt = ((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull >> 24) % PAT_SIZE;
	}

	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	if (fd < 0)
		die("socket");
	int sndbuf = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct sockaddr_nl dst = { .nl_family = AF_NETLINK, .nl_pid = port };
	static struct mb m;
	static const uint8_t zeros[4];
	struct iovec iov[3];
	struct msghdr msg = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = iov };
	uint64_t msgs = 0, data_bytes = 0;

	uint64_t t0 = now_ns(CLOCK_REALTIME);
	for (int live = nstreams; live > 0;) {
		for (int i = 0; i < nstreams; i++) {
			struct stream *s = &st[i];
			if (s->phase == P_DONE)
				continue;
			const void *data;
			size_t dlen;
			next_message(s, &m, &data, &dlen);
			iov[0] = (struct iovec){ m.buf, m.len };
			msg.msg_iovlen = 1;
			if (dlen) {
				iov[1] = (struct iovec){ (void *)data, dlen };
				iov[2] = (struct iovec){ (void *)zeros, NLA_ALIGN(dlen) - dlen };
				msg.msg_iovlen = iov[2].iov_len ? 3 : 2;
			}
			for (;;) {
				ssize_t r = sendmsg(fd, &msg, 0);
				if (r >= 0)
					break;
				if (errno == EINTR)
					continue;
				die("sendmsg");
			}
			msgs++;
			data_bytes += dlen;
			if (s->phase == P_DONE)
				live--;
		}
	}
	uint64_t t1 = now_ns(CLOCK_REALTIME);
	printf("t_start_ns=%llu t_end_ns=%llu messages=%llu data_bytes=%llu streams=%d\n", (unsigned long long)t0,
	       (unsigned long long)t1, (unsigned long long)msgs, (unsigned long long)data_bytes, nstreams);
	for (int i = 0; i < nstreams; i++)
		printf("stream crid=%llu records=%llu bytes=%llu checksum=0x%08x\n", (unsigned long long)st[i].crid,
		       (unsigned long long)st[i].records, (unsigned long long)st[i].bytes, ~st[i].crc);
	return 0;
}
