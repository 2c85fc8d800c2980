/* Writing a file through a pipe: vmsplice(2) the caller's buffers into a pipe (no copy: the
 * pipe holds references to their pages), then splice(2) the pipe into the file. The kernel
 * then copies into the page cache from kernel pages (copy_page_from_iter on a bvec) instead
 * of from user memory (copy_from_user after fault_in_readable): where user copies are slow,
 * as under qemu's TCG (a `rep movsb` a byte per step), this is the faster way; on hardware
 * the two are close (docs/benchmarks.md, "Writes through a pipe"). The listener measures
 * both at start and keeps the faster (ImageWritePath).
 *
 * vmsplice, splice and SPLICE_F_* are declared only under _GNU_SOURCE, which the Swift Glibc
 * module is not built with. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "ckpt_shims.h"

int ckpt_splice_pipe(int fds[2])
{
	/* Large enough for one of the listener's ~1 MiB writes in a call; without
	 * CAP_SYS_RESOURCE 1 MiB is the most (fs.pipe-max-size), and the 64 KiB default
	 * still works, with more calls. */
	static const int sizes[] = { 2 << 20, 1 << 20 };
	unsigned int i;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (fcntl(fds[1], F_SETPIPE_SZ, sizes[i]) >= 0)
			break;
	return 0;
}

/* Empties the pipe (bytes a failed splice left), so that no page of the caller's stays
 * referenced and the next write starts clean. */
static int drain(int pipe_r, size_t left)
{
	char sink[4096];

	while (left > 0) {
		ssize_t n = read(pipe_r, sink, left < sizeof(sink) ? left : sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		left -= (size_t)n;
	}
	return 0;
}

ssize_t ckpt_splice_writev(int pipe_r, int pipe_w, int fd, const struct iovec *iov, int count)
{
	size_t in_pipe, written = 0;
	ssize_t n;

	/* Empty pipe, nonblocking: takes as much as fits and never waits. */
	do {
		n = vmsplice(pipe_w, iov, (unsigned long)count, SPLICE_F_NONBLOCK);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	in_pipe = (size_t)n;
	while (written < in_pipe) {
		n = splice(pipe_r, NULL, fd, NULL, in_pipe - written, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : ENOSPC;

			if (drain(pipe_r, in_pipe - written) != 0)
				return -EIO;	/* the bytes are in the pipe: only a bad fd fails */
			/* What reached the file counts; the caller retries the rest. */
			return written > 0 ? (ssize_t)written : -err;
		}
		written += (size_t)n;
	}
	/* The pipe is empty again: no reference to the caller's pages is left. */
	return (ssize_t)written;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One timed round: `bytes` of buf into the emptied file in ~1 MiB calls of 60 KiB parts at
 * offset 128 of each 64 KiB, the shape of the listener's writes (the data of pool buffers
 * holding netlink messages). 0 on failure. */
static uint64_t probe_round(int fd, const char *buf, size_t bytes, const int *pipe_fds)
{
	enum { part = 60 << 10, stride = 64 << 10, per_call = 16 };
	struct iovec iov[per_call];
	size_t done = 0;
	uint64_t t0;

	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return 0;
	t0 = now_ns();
	while (done + part <= bytes) {
		int n = 0;
		size_t call = 0;
		ssize_t w;

		while (n < per_call && done + call + part <= bytes) {
			iov[n].iov_base = (char *)buf + (done / part) * stride + 128 + (size_t)n * stride;
			iov[n].iov_len = part;
			call += part;
			n++;
		}
		w = pipe_fds ? ckpt_splice_writev(pipe_fds[0], pipe_fds[1], fd, iov, n) : writev(fd, iov, n);
		if (w != (ssize_t)call)	/* a short write here: give up the probe */
			return 0;
		done += call;
	}
	return now_ns() - t0 + 1;
}

int ckpt_write_probe(const char *dir, size_t bytes, uint64_t *writev_ns, uint64_t *splice_ns)
{
	size_t size = (bytes / (60 << 10) + 1) * (64 << 10);
	int fd, pipe_fds[2], round, err = 0;
	char *buf;

	*writev_ns = *splice_ns = 0;
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = ckpt_splice_pipe(pipe_fds);
	if (err) {
		close(fd);
		return err;
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		err = -ENOMEM;
		goto out;
	}
	memset(buf, 0x5a, size);
	/* Best of three each, interleaved, so that a change in the host's load while the
	 * probe runs reaches both. */
	for (round = 0; round < 3; round++) {
		uint64_t w = probe_round(fd, buf, bytes, NULL);
		uint64_t s = probe_round(fd, buf, bytes, pipe_fds);

		if (!w || !s) {
			err = -EIO;
			break;
		}
		if (!*writev_ns || w < *writev_ns)
			*writev_ns = w;
		if (!*splice_ns || s < *splice_ns)
			*splice_ns = s;
	}
	munmap(buf, size);
out:
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(fd);
	return err;
}
