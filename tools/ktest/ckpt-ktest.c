// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-ktest: a small raw-netlink client of the ckpt family, for the kernel
 * tests. No libnl: every message is built and walked by hand here, so the
 * tests check the kernel against the protocol document, not against a
 * library that shares our assumptions.
 *
 *   ckpt-ktest sink PREFIX [--slow-ms N] [--rcvbuf B] [--streams K]
 *                          [--stall-ms N] [--die-after MSGS] [--grow-rcvbuf B]
 *       register as the sink; write each stream's messages to PREFIX-CRID.img
 *       and check them (sequence, nesting, fragments, counts, CRC-32C);
 *       print one "stream ..." line per stream; exit after K streams.
 *       --slow-ms sleeps after every read, --stall-ms once after the 10th
 *       message, --die-after exits abruptly after that many messages,
 *       --grow-rcvbuf sets SO_RCVBUFFORCE to B after the first read.
 *   ckpt-ktest checkpoint PID [--stop] [--hold] [--zombie] [--timeout MS]
 *                             [--handle-signals] [--mlock]
 *                             [--await-go FILE [--go-twice]]
 *       the request is answered at once (crid); then wait for
 *       CKPT_CMD_CHECKPOINT_DONE on the same socket and print its result.
 *       A CKPT_CMD_CHECKPOINT_READ before it prints "read crid=N" at once
 *       (--hold on a task stopped before the request: it has been read).
 *       --await-go sets the await-go flag; its CKPT_CMD_CHECKPOINT_RESERVED
 *       prints "reserved crid=N pages=P", and once FILE is removed (the
 *       test stops the task first) CKPT_CMD_CHECKPOINT_GO is sent on the
 *       same socket (twice with --go-twice), each answer printed as
 *       "go ok" or "go error errno=...". --go-now sends one go as soon
 *       as the request is admitted, without the flag (its answer printed
 *       the same way).
 *       --handle-signals catches SIGWINCH, SIGCHLD and SIGUSR1 (no
 *       SA_RESTART: the wait sees EINTR and goes on) and counts them.
 *       --mlock locks all of the requester's memory first (mlockall), so
 *       that reclaim in its memory cgroup cannot make it fault again.
 *   ckpt-ktest restart PID IMAGE [--validate-only] [--pause FILE]
 *                      [--corrupt page|vma|seq|trailer|wrap]
 *       --pause creates FILE after the last record and waits until it is
 *       removed before the commit (a test acts on the target meanwhile).
 *   ckpt-ktest getfamily NAME       time one CTRL_CMD_GETFAMILY
 *   ckpt-ktest verify IMAGE PID     compare with /proc/PID/maps and /proc/PID/mem;
 *       full_runs counts pages records of CKPT_PAGES_RUN_MAX pages
 *   ckpt-ktest stats
 *   ckpt-ktest send CMD [NAME:TYPE=VALUE]...   any request, e.g. malformed:
 *       TYPE is u8, u32, u64, str, bin (VALUE = length, zero bytes) or hex
 *       (VALUE = the bytes in hex), NAME an attribute name (pid, flags,
 *       restart-flags, timeout, rsid, seq, parent-crid, dirty-ranges, ...) or
 *       number.
 *
 * A failed request prints "error errno=NAME extack=\"...\"" and exits 1.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/mman.h>

#include "ktest.h"

/* ---- requests ---- */
static volatile sig_atomic_t signals_handled;

static void count_signal(int sig)
{
	signals_handled++;
}

/* --await-go: the go is sent once go_file is removed, go_times times. */
static const char *go_file;
static int go_times = 1, go_sent, reserved_seen, go_now;
static uint64_t go_crid;

/*
 * CKPT_CMD_CHECKPOINT_READ and CKPT_CMD_CHECKPOINT_RESERVED: said at once,
 * so a test sees when they came.
 */
static int note_event(struct nlmsghdr *nh)
{
	struct nlattr *tb[MAXA];

	if (nh->nlmsg_type != fam_id || (gen_cmd(nh) != CKPT_CMD_CHECKPOINT_READ &&
					 gen_cmd(nh) != CKPT_CMD_CHECKPOINT_RESERVED))
		return 0;
	parse(tb, gen_attrs(nh), gen_len(nh));
	if (!tb[CKPT_A_CRID])
		die("checkpoint-read or -reserved without crid");
	if (gen_cmd(nh) == CKPT_CMD_CHECKPOINT_READ) {
		printf("read crid=%" PRIu64 "\n", get_u64(tb[CKPT_A_CRID]));
	} else {
		if (!tb[CKPT_A_RESERVED_PAGES])
			die("checkpoint-reserved without reserved-pages");
		go_crid = get_u64(tb[CKPT_A_CRID]);
		reserved_seen = 1;
		printf("reserved crid=%" PRIu64 " pages=%" PRIu64 "\n", go_crid,
		       get_u64(tb[CKPT_A_RESERVED_PAGES]));
	}
	fflush(stdout);
	return 1;
}

/* CKPT_CMD_CHECKPOINT_GO for go_crid, on @fd; its ack comes to wait_done(). */
static uint32_t send_go(int fd, uint32_t seq)
{
	struct msg *m = calloc(1, sizeof(*m));

	msg_init(m, fam_id, CKPT_CMD_CHECKPOINT_GO, 0);
	put_u64(m, CKPT_A_CRID, go_crid);
	m->nh.nlmsg_seq = seq;
	if (send(fd, m->buf, m->nh.nlmsg_len, 0) < 0)
		die("send go: %s", strerror(errno));
	free(m);
	return seq;
}

/*
 * Receives until CKPT_CMD_CHECKPOINT_DONE for request @seq lands in @r;
 * with --await-go, sends the go meanwhile (seq + 1, + 2) and says how each
 * was answered.
 */
static void wait_done(int fd, uint32_t seq, struct msg *r)
{
	static char rbuf[BUF_SIZE];
	struct nlmsghdr *nh;
	int n;

	for (;;) {
		if ((go_file || go_now) && go_sent < go_times) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (go_now || (reserved_seen && access(go_file, F_OK))) {
				while (go_sent < go_times)
					send_go(fd, seq + 1 + go_sent++);
				continue;
			}
			if (poll(&p, 1, 10) == 0)
				continue;
		}
		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n < 0 && errno == EINTR)
			continue;	/* a handled signal: the stream goes on */
		if (n < 0)
			die("recv: %s", strerror(errno));
		for (nh = (void *)rbuf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq == seq && note_event(nh))
				continue;
			if (go_sent && nh->nlmsg_seq > seq && nh->nlmsg_seq <= seq + go_sent &&
			    nh->nlmsg_type == NLMSG_ERROR) {
				int err = ack_error(nh);

				if (err) {
					printf("go ");
					print_error(err);
				} else {
					printf("go ok\n");
				}
				continue;
			}
			if (nh->nlmsg_seq == seq && nh->nlmsg_type == fam_id &&
			    gen_cmd(nh) == CKPT_CMD_CHECKPOINT_DONE) {
				memcpy(r->buf, nh, nh->nlmsg_len);
				return;
			}
		}
	}
}

static int cmd_checkpoint(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	struct nlattr *tb[MAXA];
	uint32_t flags = 0, timeout = 0;
	int fd, err, i;

	if (argc < 1)
		die("checkpoint PID [--stop] [--hold] [--zombie] [--timeout MS] [--handle-signals] [--mlock] [--await-go FILE [--go-twice]]");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stop")) {
			flags |= CKPT_CHECKPOINT_FLAGS_STOP;
		} else if (!strcmp(argv[i], "--zombie")) {
			flags |= CKPT_CHECKPOINT_FLAGS_ZOMBIE;
		} else if (!strcmp(argv[i], "--hold")) {
			flags |= CKPT_CHECKPOINT_FLAGS_HOLD;
		} else if (!strcmp(argv[i], "--await-go") && i + 1 < argc) {
			flags |= CKPT_CHECKPOINT_FLAGS_AWAIT_GO;
			go_file = argv[++i];
		} else if (!strcmp(argv[i], "--go-twice")) {
			go_times = 2;
		} else if (!strcmp(argv[i], "--go-now")) {
			go_now = 1;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--handle-signals")) {
			struct sigaction sa = { .sa_handler = count_signal };

			sigaction(SIGWINCH, &sa, NULL);
			sigaction(SIGCHLD, &sa, NULL);
			sigaction(SIGUSR1, &sa, NULL);
		} else if (!strcmp(argv[i], "--mlock")) {
			if (mlockall(MCL_CURRENT | MCL_FUTURE))
				die("mlockall: %s", strerror(errno));
		} else {
			die("checkpoint: unknown option %s", argv[i]);
		}
	}
	fd = nl_open(0);
	fam_id = resolve_family(fd);
	msg_init(m, fam_id, CKPT_CMD_CHECKPOINT, 0);
	put_u32(m, CKPT_A_PID, atoi(argv[0]));
	if (flags)
		put_u32(m, CKPT_A_CHECKPOINT_FLAGS, flags);
	if (timeout)
		put_u32(m, CKPT_A_TIMEOUT_MS, timeout);
	request_event = note_event;
	err = request(fd, m, r);
	if (err) {
		print_error(err);
		return 1;
	}
	/*
	 * The done message may have come before the ack; else wait for it. A
	 * reply that already counts records is the module before issue 11
	 * (stream sent inside the request): kept so the scenarios can be run
	 * against it to show what they catch.
	 */
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	if (gen_cmd(&r->nh) != CKPT_CMD_CHECKPOINT_DONE && !tb[CKPT_A_RECORDS]) {
		parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
		if (gen_cmd(&r->nh) != CKPT_CMD_CHECKPOINT || !tb[CKPT_A_CRID])
			die("checkpoint reply without crid");
		if (go_now)
			go_crid = get_u64(tb[CKPT_A_CRID]);
		wait_done(fd, m->nh.nlmsg_seq, r);
	}
	parse(tb, gen_attrs(&r->nh), gen_len(&r->nh));
	if (!tb[CKPT_A_CRID])
		die("checkpoint-done without crid");
	if (tb[CKPT_A_ERROR]) {
		printf("error errno=%s extack=\"%s\" reason=%s crid=%" PRIu64
		       " signals=%d\n", errname(-(int)get_u32(tb[CKPT_A_ERROR])),
		       tb[CKPT_A_MESSAGE] ? (char *)adata(tb[CKPT_A_MESSAGE]) : "",
		       tb[CKPT_A_REASON] ? abort_reason_name(get_u32(tb[CKPT_A_REASON])) : "none",
		       get_u64(tb[CKPT_A_CRID]), (int)signals_handled);
		return 1;
	}
	if (!tb[CKPT_A_RECORDS] || !tb[CKPT_A_BYTES] || !tb[CKPT_A_CHECKSUM])
		die("checkpoint-done without records/bytes/checksum");
	printf("ok crid=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
	       " checksum=%08x signals=%d", get_u64(tb[CKPT_A_CRID]),
	       get_u64(tb[CKPT_A_RECORDS]), get_u64(tb[CKPT_A_BYTES]),
	       get_u32(tb[CKPT_A_CHECKSUM]), (int)signals_handled);
	/* Only when the kernel stopped the task (--stop, not stopped before). */
	if (tb[CKPT_A_FROZEN_NS])
		printf(" frozen_ns=%" PRIu64, get_u64(tb[CKPT_A_FROZEN_NS]));
	printf("\n");
	return 0;
}

/* One CTRL_CMD_GETFAMILY, timed: genl answers while a stream waits. */
static int cmd_getfamily(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	struct timespec t0, t1;
	int fd, err;

	if (argc < 1)
		die("getfamily NAME");
	fd = nl_open(0);
	msg_init(m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	put(m, CTRL_ATTR_FAMILY_NAME, argv[0], strlen(argv[0]) + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = request(fd, m, r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		print_error(err);
		return 1;
	}
	printf("ok family=%s us=%ld\n", argv[0],
	       (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000);
	return 0;
}

static int cmd_stats(void)
{
	static const char *const names[] = {
		[CKPT_A_STATS_STREAMS] = "streams", [CKPT_A_STATS_RECORDS] = "records",
		[CKPT_A_STATS_BYTES] = "bytes", [CKPT_A_STATS_ABORTS] = "aborts",
		[CKPT_A_STATS_WAIT_NS] = "wait-ns", [CKPT_A_STATS_RESTARTS] = "restarts",
		[CKPT_A_STATS_RESTART_REJECTS] = "restart-rejects",
		[CKPT_A_STATS_FRAG_PAGES_NEW] = "frag-pages-new",
		[CKPT_A_STATS_FRAG_PAGES_REUSED] = "frag-pages-reused",
		[CKPT_A_STATS_HELD_BYTES] = "held-bytes",
		[CKPT_A_STATS_HOLD_RESERVED_PAGES] = "hold-reserved-pages",
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

static int cmd_verify(int argc, char **argv)
{
	char path[64], line[1024], *img, *page_buf;
	int nvma = 0, nmaps = 0, mem;
	uint64_t pages = 0, pending_addr = 0;
	unsigned int full_runs = 0;
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
				uint64_t nr = get_u64(tb[CKPT_A_DATA_LEN]) / 4096;

				pending_addr = get_u64(meta[CKPT_A_META_ADDR]);
				pages += nr;
				if (nr > CKPT_PAGES_RUN_MAX) {
					printf("verify FAIL: a pages record of %" PRIu64
					       " pages\n", nr);
					return 1;
				}
				full_runs += nr == CKPT_PAGES_RUN_MAX;
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
	printf("verify ok vmas=%d pages=%" PRIu64 " full_runs=%u\n", nvma, pages, full_runs);
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
	{ "rsid", CKPT_A_RSID }, { "stats", CKPT_A_STATS }, { "timeout-ms", CKPT_A_TIMEOUT_MS },
	{ "parent-crid", CKPT_A_PARENT_CRID }, { "dirty-ranges", CKPT_A_DIRTY_RANGES },
};

static const struct { const char *name; int cmd; } cmd_names[] = {
	{ "sink-register", CKPT_CMD_SINK_REGISTER },
	{ "sink-unregister", CKPT_CMD_SINK_UNREGISTER },
	{ "checkpoint", CKPT_CMD_CHECKPOINT }, { "stream-begin", CKPT_CMD_STREAM_BEGIN },
	{ "record", CKPT_CMD_RECORD }, { "restart-begin", CKPT_CMD_RESTART_BEGIN },
	{ "restart-record", CKPT_CMD_RESTART_RECORD },
	{ "restart-commit", CKPT_CMD_RESTART_COMMIT },
	{ "restart-abort", CKPT_CMD_RESTART_ABORT }, { "stats-get", CKPT_CMD_STATS_GET },
	{ "checkpoint-go", CKPT_CMD_CHECKPOINT_GO },
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
		} else if (!strcmp(type, "hex")) {
			size_t n = strlen(val) / 2, k;
			unsigned char *b = calloc(1, n + 1);

			for (k = 0; k < n; k++)
				if (sscanf(val + 2 * k, "%2hhx", &b[k]) != 1)
					die("bad hex in %s", argv[i]);
			put(m, nr, b, n);
			free(b);
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
	if (!strcmp(argv[1], "getfamily"))
		return cmd_getfamily(argc - 2, argv + 2);
	die("unknown command %s", argv[1]);
}

