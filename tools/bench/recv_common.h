/* The part of limit.c and batched.c that is the same: options, stream table, the end. */
#ifndef CKPT_BENCH_RECV_COMMON_H
#define CKPT_BENCH_RECV_COMMON_H
#include "common.h"
#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>

static struct {
	const char *dir;
	int exit_after;
	int rcvbuf;
	int fsync;
	/* limit.c only, for the experiments in docs/benchmarks.md: bytes of zeros written at
	 * the start of each file (data no longer page aligned), and payloads per writev. */
	int offset;
	int coalesce;
	/* batched.c only, an experiment (docs/benchmarks.md, "Allocated ahead"). */
	int allocate_ahead;
} opt = { ".", 1, 4 << 20, 1, 0, 1, 0 };

static struct btable tab;
static uint64_t n_msgs, n_data, t_first, t_last, fsync_ns;
static struct bstream *just_ended;

/* A stream's image is durable when its end arrives, as ckpt listen makes it (fsync before
 * it publishes the image); the time is summed and reported apart. */
static void stream_done(struct bstream *s)
{
	uint64_t f0 = now_ns(CLOCK_MONOTONIC);
	if (opt.fsync && fsync(s->fd) < 0)
		die("fsync");
	if (s->allocated) { /* free what was allocated past the end, keep the mtime (as ckpt) */
		struct stat st;
		if (fstat(s->fd, &st) == 0 && ftruncate(s->fd, st.st_size) == 0) {
			struct timespec t[2] = { { 0, UTIME_OMIT }, st.st_mtim };
			futimens(s->fd, t);
		}
	}
	close(s->fd);
	s->fd = -1;
	fsync_ns += now_ns(CLOCK_MONOTONIC) - f0;
}

static void parse_opts(int argc, char **argv, const char *name)
{
	static const struct option o[] = { { "dir", 1, 0, 'd' },    { "exit-after", 1, 0, 'n' },
					   { "rcvbuf", 1, 0, 'r' }, { "no-fsync", 0, 0, 'F' },
					   { "offset", 1, 0, 'o' }, { "coalesce", 1, 0, 'c' },
					   { "allocate-ahead", 0, 0, 'a' }, { 0 } };
	for (int c; (c = getopt_long(argc, argv, "d:n:r:Fo:c:a", o, NULL)) != -1;) {
		switch (c) {
		case 'd': opt.dir = optarg; break;
		case 'n': opt.exit_after = atoi(optarg); break;
		case 'r': opt.rcvbuf = atoi(optarg); break;
		case 'F': opt.fsync = 0; break;
		case 'o': opt.offset = atoi(optarg); break;
		case 'c': opt.coalesce = atoi(optarg); break;
		case 'a': opt.allocate_ahead = 1; break;
		default:
			fprintf(stderr, "usage: %s --dir D [--exit-after N] [--rcvbuf BYTES] [--no-fsync]"
					" [--offset BYTES] [--coalesce K] [--allocate-ahead]\n", name);
			exit(64);
		}
	}
	if (opt.allocate_ahead && strcmp(name, "batched") != 0) {
		fprintf(stderr, "%s: --allocate-ahead is batched's only\n", name);
		exit(64);
	}
	if (opt.offset < 0 || opt.offset > 65536 || opt.coalesce < 1 || opt.coalesce > 64) {
		fprintf(stderr, "%s: --offset must be 0 ... 65536 and --coalesce 1 ... 64\n", name);
		exit(64);
	}
}

/* --allocate-ahead: before `bytes` more are written to s, the blocks they need, as ckpt
 * listen's ImageWriter allocates them (a quarter of what the file will hold, 1 to 16 MiB at
 * a time, fallocate FALLOC_FL_KEEP_SIZE); off for good after a refusal. */
static inline void allocate_for(struct bstream *s, uint64_t bytes)
{
	const uint64_t mib = 1 << 20;
	uint64_t end = s->written + bytes;

	s->written = end;
	if (!opt.allocate_ahead || end <= s->allocated)
		return;
	uint64_t step = end / 4 / mib * mib, need = (end - s->allocated + mib - 1) / mib * mib;
	step = step < mib ? mib : step > 16 * mib ? 16 * mib : step;
	uint64_t len = need > step ? need : step;
	if (fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)s->allocated, (off_t)len) == 0)
		s->allocated += len;
	else
		opt.allocate_ahead = 0;
}

static void bad(const char *why)
{
	fprintf(stderr, "invalid message: %s\n", why);
	exit(3);
}

/* Stream bookkeeping for one parsed message; returns the stream a DATA payload goes to. */
static struct bstream *on_message(const struct ckpt_msg *m)
{
	if (m->cmd == CKPT_CMD_STREAM_BEGIN) {
		if (m->seq != 0 || btable_find(&tab, m->crid) || tab.n == BENCH_MAX_STREAMS)
			bad("begin");
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%llu.img", opt.dir, (unsigned long long)m->crid);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			die(path);
		static const char zeros[65536];
		if (opt.offset && write(fd, zeros, opt.offset) != opt.offset)
			die("offset");
		tab.s[tab.n++] = (struct bstream){ .crid = m->crid, .fd = fd, .next_seq = 1 };
		return NULL;
	}
	struct bstream *s = btable_find(&tab, m->crid);
	if (!s || s->ended)
		bad("unknown stream");
	if (m->seq != s->next_seq)
		bad("sequence gap");
	s->next_seq++;
	if (m->cmd == CKPT_CMD_STREAM_END || m->cmd == CKPT_CMD_STREAM_ABORT) {
		s->ended = 1;
		tab.ended++;
		just_ended = s; /* the caller writes what it holds, then calls stream_done */
		return NULL;
	}
	return m->data_len ? s : NULL;
}

static void finish(void)
{
	t_last = now_ns(CLOCK_REALTIME);
	printf("result streams=%d messages=%llu data_bytes=%llu t_first_ns=%llu t_last_write_ns=%llu fsync_ns=%llu\n",
	       tab.n, (unsigned long long)n_msgs, (unsigned long long)n_data, (unsigned long long)t_first,
	       (unsigned long long)t_last, (unsigned long long)fsync_ns);
	fflush(stdout);
}
#endif
