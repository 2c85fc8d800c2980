/* batched: limit with recvmmsg (up to 64 datagrams of 68 KiB per call, MSG_WAITFORONE)
 * and one writev per stream per batch. Same validation and files as limit.c. */
#include "recv_common.h"
#include <sys/uio.h>

#define BATCH 64
#define WCAP (BATCH * 4)

static void writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("writev");
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
}

/* One writev per stream for the payloads gathered, keeping each stream's order. */
static void flush_writes(struct iovec *wiov, struct bstream **wst, int nw)
{
	for (int i = 0; i < nw; i++) {
		if (!wst[i])
			continue;
		struct bstream *s = wst[i];
		struct iovec v[WCAP];
		int k = 0;
		uint64_t bytes = 0;
		for (int j = i; j < nw; j++)
			if (wst[j] == s) {
				bytes += wiov[j].iov_len;
				v[k++] = wiov[j];
				wst[j] = NULL;
			}
		allocate_for(s, bytes);
		writev_all(s->fd, v, k);
	}
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv, "batched");
	uint32_t port;
	int fd = usersock_bind(opt.rcvbuf, &port);
	print_port(port);
	static _Alignas(64) uint8_t bufs[BATCH][BENCH_MSG_BUF];
	static struct iovec riov[BATCH];
	static struct mmsghdr mm[BATCH];
	static struct iovec wiov[WCAP];
	static struct bstream *wst[WCAP];
	for (int i = 0; i < BATCH; i++) {
		riov[i] = (struct iovec){ bufs[i], BENCH_MSG_BUF };
		mm[i].msg_hdr = (struct msghdr){ .msg_iov = &riov[i], .msg_iovlen = 1 };
	}
	while (tab.ended < opt.exit_after) {
		int got = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		if (!t_first)
			t_first = now_ns(CLOCK_REALTIME);
		int nw = 0;
		for (int i = 0; i < got; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
				bad("truncated");
			size_t left = mm[i].msg_len;
			for (struct nlmsghdr *h = (void *)bufs[i]; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
				struct ckpt_msg m;
				const char *why;
				if (ckpt_parse(h, left, &m, &why))
					bad(why);
				n_msgs++;
				struct bstream *s = on_message(&m);
				if (just_ended) { /* its last payloads first */
					flush_writes(wiov, wst, nw);
					nw = 0;
					stream_done(just_ended);
					just_ended = NULL;
				}
				if (!s)
					continue;
				if (nw == WCAP) {
					flush_writes(wiov, wst, nw);
					nw = 0;
				}
				wiov[nw] = (struct iovec){ (void *)m.data, m.data_len };
				wst[nw++] = s;
				n_data += m.data_len;
			}
		}
		flush_writes(wiov, wst, nw);
	}
	finish();
	return 0;
}
