/* recvmmsg(2) for Swift: struct mmsghdr and recvmmsg() are declared only under
 * _GNU_SOURCE, which the Swift Glibc module is not built with, so Swift cannot name them.
 * These helpers own an array of n (mmsghdr, iovec) pairs behind an opaque pointer. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/netlink.h>
#include "ckpt_shims.h"

struct ckpt_mmsg_vec {
	unsigned int n;
	struct mmsghdr *hdr;
	struct iovec *iov;
};

struct ckpt_mmsg_vec *ckpt_mmsg_alloc(unsigned int n)
{
	struct ckpt_mmsg_vec *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->n = n;
	v->hdr = calloc(n, sizeof(*v->hdr));
	v->iov = calloc(n, sizeof(*v->iov));
	if (!v->hdr || !v->iov) {
		ckpt_mmsg_free(v);
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++) {
		v->hdr[i].msg_hdr.msg_iov = &v->iov[i];
		v->hdr[i].msg_hdr.msg_iovlen = 1;
		/* No msg_name: no sender address is copied out per datagram. */
	}
	return v;
}

void ckpt_mmsg_free(struct ckpt_mmsg_vec *v)
{
	if (!v)
		return;
	free(v->hdr);
	free(v->iov);
	free(v);
}

void ckpt_mmsg_set(struct ckpt_mmsg_vec *v, unsigned int i, void *base, size_t len)
{
	v->iov[i].iov_base = base;
	v->iov[i].iov_len = len;
}

int ckpt_mmsg_recv(int fd, struct ckpt_mmsg_vec *v, int flags)
{
	return ckpt_mmsg_recv_n(fd, v, v->n, flags);
}

int ckpt_mmsg_recv_n(int fd, struct ckpt_mmsg_vec *v, unsigned int n, int flags)
{
	if (n > v->n)
		n = v->n;
	for (unsigned int i = 0; i < n; i++) {
		v->hdr[i].msg_len = 0;
		v->hdr[i].msg_hdr.msg_flags = 0;
	}
	return recvmmsg(fd, v->hdr, n, flags, NULL);
}

size_t ckpt_mmsg_len(const struct ckpt_mmsg_vec *v, unsigned int i)
{
	return v->hdr[i].msg_len;
}

int ckpt_mmsg_flags(const struct ckpt_mmsg_vec *v, unsigned int i)
{
	return v->hdr[i].msg_hdr.msg_flags;
}
