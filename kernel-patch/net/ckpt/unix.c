// SPDX-License-Identifier: GPL-2.0
/*
 * What a Unix-domain socket is and holds, for its unix record: type, state,
 * name, peer and the peer's name, shutdown, buffer sizes, a listener's
 * backlog and how many connections wait for accept(), and a copy of its
 * receive queue, read without consuming it (the way MSG_PEEK would, for
 * every message).
 *
 * The name is getsockname(2)'s: set once by bind (or autobind) and never
 * changed, published with a release store that unix_getname() pairs with.
 * The peer's is read the same way, while the reference unix_peer_get() took
 * keeps the peer, and so its address, alive.
 *
 * The copy excludes readers by holding the socket's iolock, which every
 * recvmsg path holds while it takes or trims a buffer (and drops before it
 * sleeps): with it held, the buffers counted under the queue lock are still
 * there, unread parts unchanged, when they are copied under the lock again
 * into a buffer allocated between the two (senders only append). The wait
 * for the iolock is bounded; a socket a reader holds longer is recorded
 * with the busy flag and no data.
 */
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <net/af_unix.h>
#include <net/sock.h>

#include "internal.h"

/* How long a checkpoint waits for a reader to let go of a socket. */
#define CKPT_UNIX_WAIT_MS	100

bool ckpt_is_unix(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	return sock && sock->sk && sock->sk->sk_family == AF_UNIX;
}

/*
 * Bytes of @skb a reader has not taken yet: a stream reads buffers in parts
 * (one fully read may still be queued: not a message); a datagram is whole,
 * and an empty one is a message too.
 */
static u32 ckpt_unix_unread(struct sock *sk, struct sk_buff *skb)
{
	return sk->sk_type == SOCK_STREAM ? skb->len - UNIXCB(skb).consumed : skb->len;
}

/*
 * Counts the queued messages and their bytes under the queue lock, and
 * notes descriptors or an out-of-band byte among them.
 */
static u32 ckpt_unix_count(struct sock *sk, struct ckpt_unix *u)
{
	struct sk_buff *skb;
	u32 n = 0;

	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 len = ckpt_unix_unread(sk, skb);

		if (!len && sk->sk_type == SOCK_STREAM)
			continue;
		u->bytes += len;
		n++;
		if (UNIXCB(skb).fp)
			u->flags |= CKPT_SOCK_FLAGS_RIGHTS;
	}
#if IS_ENABLED(CONFIG_AF_UNIX_OOB)
	if (READ_ONCE(unix_sk(sk)->oob_skb))
		u->flags |= CKPT_SOCK_FLAGS_OOB;
#endif
	spin_unlock(&sk->sk_receive_queue.lock);
	return n;
}

/*
 * Copies the first @n messages into u->data as length-prefixed entries. A
 * queue that shrank (which a held iolock rules out) or a buffer that cannot
 * be read leaves no copy.
 */
static void ckpt_unix_copy(struct sock *sk, struct ckpt_unix *u, u32 n)
{
	struct sk_buff *skb;
	u32 off = 0, i = 0;
	bool ok = true;
	__le32 le;

	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 len = ckpt_unix_unread(sk, skb);
		u32 from = skb->len - len;

		if (!len && sk->sk_type == SOCK_STREAM)
			continue;
		if (i++ == n)
			break;
		if (off + 4 + len > u->data_len ||
		    skb_copy_bits(skb, from, u->data + off + 4, len)) {
			ok = false;
			break;
		}
		le = cpu_to_le32(len);
		memcpy(u->data + off, &le, sizeof(le));
		off += 4 + len;
	}
	spin_unlock(&sk->sk_receive_queue.lock);
	if (!ok || off != u->data_len) {
		kvfree(u->data);
		u->data = NULL;
		u->data_len = 0;
	}
}

int ckpt_unix_peek(struct file *file, struct ckpt_unix *u)
{
	struct sock *sk = sock_from_file(file)->sk, *peer;
	struct unix_sock *us = unix_sk(sk);
	unsigned long deadline;
	u32 n;
	u64 need;

	u->type = sk->sk_type;
	u->state = READ_ONCE(sk->sk_state);
	u->shutdown = READ_ONCE(sk->sk_shutdown);
	u->sndbuf = READ_ONCE(sk->sk_sndbuf);
	u->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	if (READ_ONCE(us->addr)) {
		int len = kernel_getsockname(sock_from_file(file),
					     (struct sockaddr *)&u->addr);

		u->flags |= CKPT_SOCK_FLAGS_NAMED;
		/* More than the family: a path, or a NUL and an abstract name. */
		if (len > (int)offsetof(struct sockaddr_un, sun_path) + 1)
			u->addr_len = len;
	}
	peer = unix_peer_get(sk);
	if (peer) {
		/* Pairs with the release store that publishes a bound name. */
		struct unix_address *pa = smp_load_acquire(&unix_sk(peer)->addr);

		u->peer_ino = sock_i_ino(peer);
		if (pa && pa->len > (int)offsetof(struct sockaddr_un, sun_path) + 1 &&
		    pa->len <= sizeof(u->peer_addr)) {
			memcpy(&u->peer_addr, pa->name, pa->len);
			u->peer_len = pa->len;
		}
		sock_put(peer);
	}
	/* A listener's queue holds connections, not messages: counted only. */
	if (u->state == TCP_LISTEN) {
		u->backlog = READ_ONCE(sk->sk_max_ack_backlog);
		u->queued = skb_queue_len_lockless(&sk->sk_receive_queue);
		return 0;
	}

	deadline = jiffies + msecs_to_jiffies(CKPT_UNIX_WAIT_MS);
	while (!mutex_trylock(&us->iolock)) {
		if (time_after(jiffies, deadline)) {
			u->flags |= CKPT_SOCK_FLAGS_BUSY;
			ckpt_unix_count(sk, u);
			return 0;
		}
		usleep_range(1000, 2000);
	}
	n = ckpt_unix_count(sk, u);
	need = u->bytes + 4ULL * n;
	if (!n || need > CKPT_UNIX_DATA_MAX || (u->flags & CKPT_SOCK_FLAGS_RIGHTS))
		goto out;
	u->data = kvmalloc(need, GFP_KERNEL_ACCOUNT);
	if (!u->data) {
		mutex_unlock(&us->iolock);
		return -ENOMEM;
	}
	u->data_len = need;
	ckpt_unix_copy(sk, u, n);
out:
	mutex_unlock(&us->iolock);
	return 0;
}
