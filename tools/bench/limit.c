/* limit: the plain C receiver, what the kernel and the disk allow. recvmsg into one
 * reused buffer, validate the netlink and genl headers and the attribute framing, and
 * write() each CKPT_A_DATA payload to a new file per stream (DIR/<crid>.img). Exits after
 * --exit-after streams ended. Each file is fsynced when its stream ends, as ckpt listen
 * does before it publishes an image (the fsync time is reported apart).
 *
 * Two options exist for the experiments in docs/benchmarks.md, not for the contender:
 * --offset BYTES starts each file with that many zeros (the payloads are then no longer
 * page aligned in the file), --coalesce K receives K messages into K buffers and writes
 * their payloads with one writev (per stream; a stream's end flushes). */
#include "recv_common.h"
#include <sys/uio.h>

static _Alignas(64) uint8_t bufs[64][BENCH_MSG_BUF];
static struct iovec queued[64];
static int nqueued;
static struct bstream *queued_for;

static void flush_queued(void)
{
	for (int i = 0; i < nqueued;) {
		ssize_t w = writev(queued_for->fd, queued + i, nqueued - i);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("writev");
		}
		while (i < nqueued && (size_t)w >= queued[i].iov_len)
			w -= queued[i++].iov_len;
		if (i < nqueued) {
			queued[i].iov_base = (char *)queued[i].iov_base + w;
			queued[i].iov_len -= w;
		}
	}
	nqueued = 0;
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv, "limit");
	uint32_t port;
	int fd = usersock_bind(opt.rcvbuf, &port);
	print_port(port);
	struct sockaddr_nl from;
	struct iovec iov = { bufs[0], BENCH_MSG_BUF };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
	while (tab.ended < opt.exit_after) {
		uint8_t *buf = bufs[nqueued]; /* a queued payload's buffer is not reused before the flush */
		iov.iov_base = buf;
		ssize_t r = recvmsg(fd, &mh, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("recvmsg");
		}
		if (!t_first)
			t_first = now_ns(CLOCK_REALTIME);
		if (mh.msg_flags & MSG_TRUNC)
			bad("truncated");
		size_t left = r;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			struct ckpt_msg m;
			const char *why;
			if (ckpt_parse(h, left, &m, &why))
				bad(why);
			n_msgs++;
			struct bstream *s = on_message(&m);
			if (just_ended) {
				if (nqueued)
					flush_queued();
				stream_done(just_ended);
				just_ended = NULL;
			}
			if (!s)
				continue;
			if (nqueued && queued_for != s)
				flush_queued();
			queued_for = s;
			queued[nqueued++] = (struct iovec){ (void *)m.data, m.data_len };
			if (nqueued >= opt.coalesce)
				flush_queued();
			n_data += m.data_len;
		}
	}
	finish();
	return 0;
}
