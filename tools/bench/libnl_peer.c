/* libnl_peer: the ordinary libnl listener, written the way libnl's documentation shows:
 * nl_socket_alloc, a valid-message callback (nl_socket_modify_cb), nl_connect, then
 * nl_recvmsgs_default in a loop; the callback parses with genlmsg_parse against a policy
 * and fwrite()s CKPT_A_DATA to DIR/<crid>.img. Sequence checks are off (these are
 * notifications, libnl's documented nl_socket_disable_seq_check).
 *
 * By default every other setting is libnl's own, i.e. the documented usage: no message
 * buffer size is set, so nl_recv (libnl 3.7) peeks: it mallocs a 4-page buffer, receives
 * with MSG_PEEK|MSG_TRUNC, reallocs the buffer to the message's length if it is larger,
 * then receives the message again for real (two recvmsg per message), and recvmsgs copies
 * it into a new nl_msg (nlmsg_convert). Socket buffers stay libnl's defaults (nl_connect
 * sets 32 KiB).
 *
 * --msg-buf-size BYTES (the bench's "libnl_tuned" contender, 69632 = 64 KiB + 4 KiB) is the
 * one tuning: nl_socket_set_msg_buf_size(BYTES), which in libnl 3.7 also turns the peek off
 * (nl_recv peeks only while the buffer size is 0 and peeking was not set explicitly): one
 * recvmsg per message into a fresh buffer of BYTES (a larger message would be truncated);
 * the nl_msg copy stays.
 *
 * Each file is fflushed, fsynced and closed when its stream ends, as ckpt listen makes an
 * image durable before it publishes it (time reported apart). Exits after --exit-after
 * streams ended. */
#include "common.h"
#include <getopt.h>
#include <limits.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>

static struct btable tab;
static uint64_t n_msgs, n_data, t_first, fsync_ns;
static const char *dir = ".";

static struct nla_policy policy[CKPT_A_MAX + 1] = {
	[CKPT_A_CRID] = { .type = NLA_U64 },
	[CKPT_A_SEQ] = { .type = NLA_U32 },
	[CKPT_A_REC_TYPE] = { .type = NLA_U32 },
	[CKPT_A_REC_ID] = { .type = NLA_U32 },
	[CKPT_A_REC_PARENT] = { .type = NLA_U32 },
	[CKPT_A_DATA_LEN] = { .type = NLA_U64 },
	[CKPT_A_DATA_OFFSET] = { .type = NLA_U64 },
	[CKPT_A_META] = { .type = NLA_NESTED },
	[CKPT_A_DATA] = { .type = NLA_UNSPEC, .maxlen = CKPT_DATA_MAX },
	[CKPT_A_RECORDS] = { .type = NLA_U64 },
	[CKPT_A_BYTES] = { .type = NLA_U64 },
	[CKPT_A_CHECKSUM] = { .type = NLA_U32 },
	[CKPT_A_PID] = { .type = NLA_U32 },
	[CKPT_A_REASON] = { .type = NLA_U32 },
	[CKPT_A_MESSAGE] = { .type = NLA_STRING },
};

static int on_valid(struct nl_msg *msg, void *arg)
{
	(void)arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	if (!t_first)
		t_first = now_ns(CLOCK_REALTIME);
	if (nlh->nlmsg_type != CKPT_USERSOCK_TYPE)
		return NL_SKIP;
	struct genlmsghdr *g = genlmsg_hdr(nlh);
	struct nlattr *tb[CKPT_A_MAX + 1];
	int err = genlmsg_parse(nlh, 0, tb, CKPT_A_MAX, policy);
	if (err < 0 || !tb[CKPT_A_CRID] || !tb[CKPT_A_SEQ]) {
		fprintf(stderr, "invalid message: %s\n", nl_geterror(err));
		exit(3);
	}
	n_msgs++;
	uint64_t crid = nla_get_u64(tb[CKPT_A_CRID]);
	uint32_t seq = nla_get_u32(tb[CKPT_A_SEQ]);
	struct bstream *s = btable_find(&tab, crid);
	switch (g->cmd) {
	case CKPT_CMD_STREAM_BEGIN: {
		if (s || seq != 0 || tab.n == BENCH_MAX_STREAMS) {
			fprintf(stderr, "invalid begin\n");
			exit(3);
		}
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%llu.img", dir, (unsigned long long)crid);
		FILE *fp = fopen(path, "wxe");
		if (!fp)
			die(path);
		tab.s[tab.n++] = (struct bstream){ .crid = crid, .fp = fp, .next_seq = 1 };
		break;
	}
	case CKPT_CMD_RECORD:
	case CKPT_CMD_STREAM_END:
	case CKPT_CMD_STREAM_ABORT:
		if (!s || s->ended || seq != s->next_seq) {
			fprintf(stderr, "invalid stream message (unknown stream or sequence gap)\n");
			exit(3);
		}
		s->next_seq++;
		if (g->cmd != CKPT_CMD_RECORD) {
			s->ended = 1;
			tab.ended++;
			uint64_t f0 = now_ns(CLOCK_MONOTONIC);
			if (fflush(s->fp) || fsync(fileno(s->fp)))
				die("fsync");
			fclose(s->fp);
			s->fp = NULL;
			fsync_ns += now_ns(CLOCK_MONOTONIC) - f0;
			return NL_STOP;
		}
		if (tb[CKPT_A_DATA]) {
			int n = nla_len(tb[CKPT_A_DATA]);
			if (fwrite(nla_data(tb[CKPT_A_DATA]), 1, n, s->fp) != (size_t)n)
				die("fwrite");
			n_data += n;
		}
		break;
	default:
		return NL_SKIP;
	}
	return NL_OK;
}

int main(int argc, char **argv)
{
	int exit_after = 1;
	size_t msg_buf_size = 0; /* 0: libnl's default (peek) */
	static const struct option o[] = {
		{ "dir", 1, 0, 'd' }, { "exit-after", 1, 0, 'n' }, { "msg-buf-size", 1, 0, 'b' }, { 0 }
	};
	for (int c; (c = getopt_long(argc, argv, "d:n:b:", o, NULL)) != -1;) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': exit_after = atoi(optarg); break;
		case 'b': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || v > INT_MAX) {
				fprintf(stderr, "--msg-buf-size: a positive number of bytes, not '%s'\n", optarg);
				return 64;
			}
			msg_buf_size = v;
			break;
		}
		default:
			fprintf(stderr, "usage: libnl_peer --dir D [--exit-after N] [--msg-buf-size BYTES]\n");
			return 64;
		}
	}
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return 2;
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, NULL);
	int err = nl_connect(sk, NETLINK_USERSOCK);
	if (err < 0) {
		fprintf(stderr, "nl_connect: %s\n", nl_geterror(err));
		return 2;
	}
	if (msg_buf_size)
		nl_socket_set_msg_buf_size(sk, msg_buf_size);
	print_port(nl_socket_get_local_port(sk));
	while (tab.ended < exit_after) {
		err = nl_recvmsgs_default(sk);
		if (err < 0 && err != -NLE_INTR) {
			fprintf(stderr, "nl_recvmsgs: %s\n", nl_geterror(err));
			return 2;
		}
	}
	uint64_t t_last = now_ns(CLOCK_REALTIME);
	/* The bench itself uses file mtimes for the last write, the same for every contender. */
	printf("result streams=%d messages=%llu data_bytes=%llu t_first_ns=%llu t_last_write_ns=%llu fsync_ns=%llu\n",
	       tab.n, (unsigned long long)n_msgs, (unsigned long long)n_data, (unsigned long long)t_first,
	       (unsigned long long)t_last, (unsigned long long)fsync_ns);
	nl_socket_free(sk);
	return 0;
}
