/* mapped: batched, but each datagram's payload is received straight into the image file's
 * page cache through a MAP_SHARED mapping (one copy, skb -> page cache, instead of two).
 * Each of the batch's datagrams gets three iovecs: H header bytes into a small buffer, F
 * bytes into the file at the stream's write position + i * F, the rest into a spill
 * buffer. H and F are learned from the last data continuation (its payload offset, its
 * length). A payload that did not land where it belongs is moved there (memmove). */
#include "recv_common.h"
#include <sys/mman.h>
#include <sys/uio.h>

#define BATCH 64
#define HMAX 256
#define MAPMAX (64ull << 30) /* virtual reserve per stream */
#define GROW (64u << 20)

struct mstream {
	char *map;
	uint64_t pos, size; /* bytes of payload written; file size now */
};
static struct mstream ms[BENCH_MAX_STREAMS];
static int populate;
static uint64_t n_moved, n_fast, n_slow;

static struct mstream *mof(struct bstream *s) { return &ms[s - tab.s]; }

static void ensure(struct bstream *s, uint64_t upto)
{
	struct mstream *m = mof(s);
	if (upto <= m->size)
		return;
	uint64_t ns = (upto + GROW - 1) / GROW * GROW;
	if (ftruncate(s->fd, ns) < 0)
		die("ftruncate");
	if (populate && madvise(m->map + m->size, ns - m->size, MADV_POPULATE_WRITE) < 0)
		die("madvise");
	m->size = ns;
}

static void put(struct bstream *s, const void *data, uint32_t len)
{
	struct mstream *m = mof(s);
	ensure(s, m->pos + len);
	if (data != m->map + m->pos) {
		memmove(m->map + m->pos, data, len);
		n_moved++;
	}
	m->pos += len;
}

int main(int argc, char **argv)
{
	populate = getenv("POPULATE") != NULL;
	parse_opts(argc, argv, "mapped");
	uint32_t port;
	int fd = usersock_bind(opt.rcvbuf, &port);
	print_port(port);
	static _Alignas(64) uint8_t hdr[BATCH][HMAX];
	static _Alignas(64) uint8_t spill[BATCH][BENCH_MSG_BUF];
	static _Alignas(64) uint8_t whole[BENCH_MSG_BUF];
	static struct iovec riov[BATCH][3];
	static struct mmsghdr mm[BATCH];
	uint32_t H = 0, F = 0;
	struct bstream *last = NULL;
	while (tab.ended < opt.exit_after) {
		struct mstream *lm = last && !last->ended ? mof(last) : NULL;
		int split = lm && H && F;
		const uint32_t bH = H, bF = F; /* this batch's layout; H and F may be relearned during it */
		if (split)
			ensure(last, lm->pos + (uint64_t)BATCH * F);
		for (int i = 0; i < BATCH; i++) {
			if (split) {
				riov[i][0] = (struct iovec){ hdr[i], H };
				riov[i][1] = (struct iovec){ lm->map + lm->pos + (uint64_t)i * F, F };
				riov[i][2] = (struct iovec){ spill[i], BENCH_MSG_BUF };
				mm[i].msg_hdr = (struct msghdr){ .msg_iov = riov[i], .msg_iovlen = 3 };
			} else {
				riov[i][0] = (struct iovec){ spill[i], BENCH_MSG_BUF };
				mm[i].msg_hdr = (struct msghdr){ .msg_iov = riov[i], .msg_iovlen = 1 };
			}
		}
		int got = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		if (!t_first)
			t_first = now_ns(CLOCK_REALTIME);
		for (int i = 0; i < got; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
				bad("truncated");
			size_t len = mm[i].msg_len;
			const uint8_t *msg = spill[i];
			const uint8_t *slot = split ? (const uint8_t *)riov[i][1].iov_base : NULL;
			struct ckpt_msg m;
			const char *why;
			if (split) {
				struct nlmsghdr *h = (void *)hdr[i];
				struct nlattr *d = (void *)(hdr[i] + bH - NLA_HDRLEN);
				if (len > bH && len <= bH + bF && h->nlmsg_len == len &&
				    (d->nla_type & NLA_TYPE_MASK) == CKPT_A_DATA && d->nla_len == len - bH + NLA_HDRLEN) {
					/* Parse the head alone: the DATA attribute cut to its header. */
					uint8_t head[HMAX];
					memcpy(head, hdr[i], bH);
					((struct nlmsghdr *)head)->nlmsg_len = bH;
					((struct nlattr *)(head + bH - NLA_HDRLEN))->nla_len = NLA_HDRLEN;
					if (ckpt_parse((void *)head, bH, &m, &why))
						bad(why);
					m.data = slot;
					m.data_len = len - bH;
					n_fast++;
				} else { /* put it together again */
					size_t a = len < bH ? len : bH, b = len - a < bF ? len - a : bF;
					memcpy(whole, hdr[i], a);
					memcpy(whole + a, slot, b);
					memcpy(whole + a + b, spill[i], len - a - b);
					if (ckpt_parse((void *)whole, len, &m, &why))
						bad(why);
					n_slow++;
					msg = whole;
				}
			} else {
				if (ckpt_parse((void *)msg, len, &m, &why))
					bad(why);
			}
			n_msgs++;
			struct bstream *s = on_message(&m);
			if (m.cmd == CKPT_CMD_STREAM_BEGIN) {
				struct bstream *b = btable_find(&tab, m.crid);
				struct mstream *bm = mof(b);
				close(b->fd); /* reopen read-write for the mapping */
				char path[PATH_MAX];
				snprintf(path, sizeof(path), "%s/%llu.img", opt.dir, (unsigned long long)m.crid);
				b->fd = open(path, O_RDWR | O_CLOEXEC);
				if (b->fd < 0)
					die(path);
				bm->map = mmap(NULL, MAPMAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, b->fd, 0);
				if (bm->map == MAP_FAILED)
					die("mmap");
				bm->pos = bm->size = 0;
				last = b;
			}
			if (just_ended) {
				struct mstream *em = mof(just_ended);
				if (ftruncate(just_ended->fd, em->pos) < 0)
					die("ftruncate");
				munmap(em->map, MAPMAX);
				stream_done(just_ended);
				if (just_ended == last)
					last = NULL;
				just_ended = NULL;
			}
			if (!s)
				continue;
			/* Learn the layout from a data message put together. */
			if (msg == spill[i] || msg == whole) {
				uint32_t h = (uint32_t)((const uint8_t *)m.data - msg);
				/* A continuation has the smallest head (no meta); the largest payload is the fragment size. */
				if (h <= HMAX && m.data_len) {
					if (!H || h < H)
						H = h;
					if (m.data_len > F)
						F = m.data_len;
				}
			}
			if (split && msg == whole && m.data_len > riov[i][1].iov_len && i + 1 < got)
				bad("a payload longer than a slot would overwrite the next slots");
			put(s, m.data, m.data_len);
			n_data += m.data_len;
			last = s;
		}
	}
	finish();
	fprintf(stderr, "mapped: fast %llu slow %llu moved %llu H %u F %u\n", (unsigned long long)n_fast,
		(unsigned long long)n_slow, (unsigned long long)n_moved, H, F);
	return 0;
}
