/* Experiment: batched.c's receive with O_DIRECT writes on a second thread. NSETS sets of
 * BATCH buffers; the receive thread fills a set (payloads of continuation fragments land
 * 512-aligned: receive at ROFF), hands it to the writer, which writev()s each stream's
 * aligned payloads (misaligned ones are skipped: an experiment of the write path only). */
#include "recv_common.h"
#include <sys/uio.h>
#include <pthread.h>
#define BATCH 64
#define WCAP (BATCH * 4)
#ifndef NSETS
#define NSETS 4
#endif
struct set { uint8_t (*bufs)[BENCH_MSG_BUF + 4096]; struct iovec wiov[WCAP]; struct bstream *wst[WCAP]; int nw; struct bstream *ended[BENCH_MAX_STREAMS]; int nended; };
static struct set sets[NSETS];
static int q_head, q_tail, q_free = NSETS, done_flag; /* sets [q_tail, q_head) are queued */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long n_skipped;
static void writev_all(int fd, struct iovec *iov, int n) {
	while (n > 0) { ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);
		if (w < 0) { if (errno == EINTR) continue; die("writev"); }
		while (n > 0 && (size_t)w >= iov->iov_len) { w -= iov->iov_len; iov++; n--; }
		if (n > 0) { iov->iov_base = (char *)iov->iov_base + w; iov->iov_len -= w; } }
}
static void flush_set(struct set *st) {
	for (int i = 0; i < st->nw; i++) { if (!st->wst[i]) continue; struct bstream *s = st->wst[i];
		struct iovec v[WCAP]; int k = 0;
		for (int j = i; j < st->nw; j++) if (st->wst[j] == s) { v[k++] = st->wiov[j]; st->wst[j] = NULL; }
		writev_all(s->fd, v, k); }
	for (int e = 0; e < st->nended; e++) stream_done(st->ended[e]);
}
static void *writer(void *arg) {
	(void)arg;
	for (;;) { pthread_mutex_lock(&mu);
		while (q_head == q_tail && !done_flag) pthread_cond_wait(&cv, &mu);
		if (q_head == q_tail) { pthread_mutex_unlock(&mu); return NULL; }
		struct set *st = &sets[q_tail % NSETS]; pthread_mutex_unlock(&mu);
		flush_set(st); t_last = now_ns(CLOCK_REALTIME);
		pthread_mutex_lock(&mu); q_tail++; q_free++; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu); }
}
int main(int argc, char **argv) {
	parse_opts(argc, argv, "dthread");
	uint32_t port; int fd = usersock_bind(opt.rcvbuf, &port); print_port(port);
	int roff = getenv("ROFF") ? atoi(getenv("ROFF")) : 0;
	for (int k = 0; k < NSETS; k++) if (posix_memalign((void **)&sets[k].bufs, 4096, BATCH * sizeof(*sets[k].bufs))) die("mem");
	pthread_t th; pthread_create(&th, NULL, writer, NULL);
	static struct iovec riov[BATCH]; static struct mmsghdr mm[BATCH];
	while (tab.ended < opt.exit_after) {
		pthread_mutex_lock(&mu); while (q_free == 0) pthread_cond_wait(&cv, &mu); q_free--; pthread_mutex_unlock(&mu);
		struct set *st = &sets[q_head % NSETS]; st->nw = 0; st->nended = 0;
		for (int i = 0; i < BATCH; i++) { riov[i] = (struct iovec){ st->bufs[i] + roff, BENCH_MSG_BUF };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 }; }
		int got;
		do got = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL); while (got < 0 && errno == EINTR);
		if (got < 0) die("recvmmsg");
		if (!t_first) t_first = now_ns(CLOCK_REALTIME);
		for (int i = 0; i < got; i++) { size_t left = mm[i].msg_len;
			for (struct nlmsghdr *h = (void *)(st->bufs[i] + roff); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
				struct ckpt_msg m; const char *why; if (ckpt_parse(h, left, &m, &why)) bad(why);
				n_msgs++; struct bstream *s = on_message(&m);
				if (just_ended) { st->ended[st->nended++] = just_ended; just_ended = NULL; } /* fsynced after the set's writes */
				if (!s) continue;
				n_data += m.data_len;
				if (getenv("DIO") && (((uintptr_t)m.data | m.data_len) & 511)) { n_skipped++; continue; }
				st->wiov[st->nw] = (struct iovec){ (void *)m.data, m.data_len }; st->wst[st->nw++] = s; } }
		pthread_mutex_lock(&mu); q_head++; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu); done_flag = 1; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
	pthread_join(th, NULL);
	fprintf(stderr, "skipped %ld\n", n_skipped);
	uint64_t tl = t_last; finish(); (void)tl;
	return 0;
}
