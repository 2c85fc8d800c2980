// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-ktest restart: stream an image file back to the kernel as a restart
 * session, optionally corrupted on the way, and commit it.
 */
#define _GNU_SOURCE
#include "ktest.h"

/*
 * restart-done @nh: 0, or -errno with the writer's message in last_extack.
 */
static int restart_done_result(struct nlmsghdr *nh)
{
	struct nlattr *tb[MAXA];

	parse(tb, gen_attrs(nh), gen_len(nh));
	if (!tb[CKPT_A_ERROR])
		return 0;
	snprintf(last_extack, sizeof(last_extack), "%s",
		 tb[CKPT_A_MESSAGE] ? (char *)adata(tb[CKPT_A_MESSAGE]) : "");
	return -(int)get_u32(tb[CKPT_A_ERROR]);
}

/*
 * Reads until restart-done for the commit sent with nlmsg_seq @seq, copied
 * to @done. Returns restart_done_result().
 */
static int await_restart_done(int fd, uint32_t seq, struct msg *done)
{
	static char rbuf[BUF_SIZE];

	for (;;) {
		int n = recv(fd, rbuf, sizeof(rbuf), 0);
		struct nlmsghdr *nh;

		if (n < 0)
			die("recv: %s", strerror(errno));
		for (nh = (void *)rbuf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type != fam_id || nh->nlmsg_seq != seq ||
			    gen_cmd(nh) != CKPT_CMD_RESTART_DONE)
				continue;
			memcpy(done->buf, nh, nh->nlmsg_len);
			return restart_done_result(nh);
		}
	}
}

int cmd_restart(int argc, char **argv)
{
	struct msg *m = calloc(1, sizeof(*m)), *r = calloc(1, sizeof(*r));
	const char *corrupt = "", *pause = NULL;
	uint64_t sent_records = 0, sent_bytes = 0;
	uint32_t sent_crc = ~0U;
	bool validate = false, corrupted = false;
	struct nlattr *tb[MAXA], *end[MAXA] = { 0 };
	uint32_t rsid, seq = 0;
	struct nlmsghdr *nh;
	int fd, err, i, n = 0;
	size_t len;
	char *img;

	if (argc < 2)
		die("restart PID IMAGE [--validate-only] [--pause FILE] [--corrupt KIND]");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--validate-only"))
			validate = true;
		else if (!strcmp(argv[i], "--pause") && i + 1 < argc)
			pause = argv[++i];
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
			} else if (!strcmp(corrupt, "wrap") &&
				   type == CKPT_RECORD_TYPE_PAGES) {
				/* addr + len wraps past the top of the address space. */
				uint64_t v = 0xfffffffffffff000ULL;

				memcpy(adata(meta[CKPT_A_META_ADDR]), &v, 8);
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
		/* What the kernel will count, after any corruption. */
		if (tb[CKPT_A_META]) {
			sent_records++;
			sent_crc = crc_update(sent_crc, adata(tb[CKPT_A_META]), alen(tb[CKPT_A_META]));
			sent_bytes += alen(tb[CKPT_A_META]);
		}
		if (tb[CKPT_A_DATA]) {
			sent_crc = crc_update(sent_crc, adata(tb[CKPT_A_DATA]), alen(tb[CKPT_A_DATA]));
			sent_bytes += alen(tb[CKPT_A_DATA]);
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
	if (pause) {
		int t;
		FILE *f = fopen(pause, "w");

		if (!f)
			die("%s: %s", pause, strerror(errno));
		fclose(f);
		for (t = 0; !access(pause, F_OK); t++) {
			if (t == 1200)
				die("--pause: %s still there after 60 s", pause);
			usleep(50 * 1000);
		}
	}
	msg_init(m, fam_id, CKPT_CMD_RESTART_COMMIT, 0);
	put_u32(m, CKPT_A_RSID, rsid);
	put_u32(m, CKPT_A_SEQ, seq);
	if (!strcmp(corrupt, "wrap")) {
		/* A consistent image that lies: the kernel must check it anyway. */
		put_u64(m, CKPT_A_RECORDS, sent_records);
		put_u64(m, CKPT_A_BYTES, sent_bytes);
		put_u32(m, CKPT_A_CHECKSUM, ~sent_crc);
	} else {
		put_u64(m, CKPT_A_RECORDS, get_u64(end[CKPT_A_RECORDS]));
		put_u64(m, CKPT_A_BYTES, get_u64(end[CKPT_A_BYTES]));
		put_u32(m, CKPT_A_CHECKSUM, get_u32(end[CKPT_A_CHECKSUM]));
	}
	err = request(fd, m, r);
	/*
	 * The reply accepted it: the session's writer says how it ended. Its
	 * restart-done (the commit's nlmsg_seq) can overtake the ack, as the
	 * writer runs once the doit has queued the reply: request() then left
	 * it in @r, the last message of that seq.
	 */
	if (!err && r->nh.nlmsg_type == fam_id && gen_cmd(&r->nh) == CKPT_CMD_RESTART_DONE)
		err = restart_done_result(&r->nh);
	else if (!err)
		err = await_restart_done(fd, m->nh.nlmsg_seq, r);
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
