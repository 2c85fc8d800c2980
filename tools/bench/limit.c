/* limit: the plain C receiver, what the kernel and the disk allow. recvmsg into one
 * reused buffer, validate the netlink and genl headers and the attribute framing, and
 * write() each CKPT_A_DATA payload to a new file per stream (DIR/<crid>.img). Exits after
 * --exit-after streams ended. Each file is fsynced when its stream ends, as ckpt listen
 * does before it publishes an image (the fsync time is reported apart). */
#include "recv_common.h"

int main(int argc, char **argv)
{
	parse_opts(argc, argv, "limit");
	uint32_t port;
	int fd = usersock_bind(opt.rcvbuf, &port);
	print_port(port);
	static _Alignas(64) uint8_t buf[BENCH_MSG_BUF];
	struct sockaddr_nl from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
	while (tab.ended < opt.exit_after) {
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
				stream_done(just_ended);
				just_ended = NULL;
			}
			if (!s)
				continue;
			const char *p = m.data;
			for (size_t n = m.data_len; n;) {
				ssize_t w = write(s->fd, p, n);
				if (w < 0) {
					if (errno == EINTR)
						continue;
					die("write");
				}
				p += w;
				n -= w;
			}
			n_data += m.data_len;
		}
	}
	finish();
	return 0;
}
