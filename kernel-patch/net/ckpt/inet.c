// SPDX-License-Identifier: GPL-2.0
/*
 * What a TCP or UDP socket is, for its inet record: family, type, state,
 * local and peer address, the options a server sets before it binds
 * (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY), the ones the connections it
 * accepts inherit (SO_KEEPALIVE, TCP_NODELAY), buffer sizes set by hand,
 * and how much it held unread. Nothing is copied out of its queues: a
 * restorer makes an empty socket, bound, listening or connected where this
 * one was.
 *
 * The fields are read under the socket's lock, which bind, listen, connect
 * and setsockopt hold while they change them (and which a reader waiting
 * for data does not hold while it sleeps); the addresses come from the
 * family's getname, as getsockname(2) and getpeername(2) show them.
 */
#include <linux/file.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/net.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <net/inet_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "internal.h"

bool ckpt_is_inet(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock ? sock->sk : NULL;

	if (!sk || (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return false;
	return (sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP) ||
	       (sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_UDP);
}

static u32 ckpt_inet_flags(struct sock *sk)
{
	u32 flags = 0;

	if (sk->sk_reuse)
		flags |= CKPT_SOCK_FLAGS_REUSEADDR;
	if (sk->sk_reuseport)
		flags |= CKPT_SOCK_FLAGS_REUSEPORT;
	if (sk->sk_family == AF_INET6 && sk->sk_ipv6only)
		flags |= CKPT_SOCK_FLAGS_V6ONLY;
	if (sk->sk_userlocks & SOCK_SNDBUF_LOCK)
		flags |= CKPT_SOCK_FLAGS_SNDBUF_LOCK;
	if (sk->sk_userlocks & SOCK_RCVBUF_LOCK)
		flags |= CKPT_SOCK_FLAGS_RCVBUF_LOCK;
	if (sock_flag(sk, SOCK_KEEPOPEN))
		flags |= CKPT_SOCK_FLAGS_KEEPALIVE;
	if (sk->sk_protocol == IPPROTO_TCP && (tcp_sk(sk)->nonagle & TCP_NAGLE_OFF))
		flags |= CKPT_SOCK_FLAGS_NODELAY;
	return flags;
}

/* Fills @in for @file, a socket ckpt_is_inet() accepted. */
int ckpt_inet_peek(struct file *file, struct ckpt_inet *in)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk = sock->sk;
	bool bound, connected;
	int len;

	in->family = sk->sk_family;
	in->type = sk->sk_type;
	in->protocol = sk->sk_protocol;
	lock_sock(sk);
	in->state = sk->sk_state;
	in->shutdown = sk->sk_shutdown;
	in->backlog = READ_ONCE(sk->sk_max_ack_backlog);
	in->sndbuf = sk->sk_sndbuf;
	in->rcvbuf = sk->sk_rcvbuf;
	in->flags = ckpt_inet_flags(sk);
	if (in->state == TCP_LISTEN)
		in->queued = READ_ONCE(sk->sk_ack_backlog);
	else if (sk->sk_protocol == IPPROTO_UDP)
		in->queued = skb_queue_len_lockless(&sk->sk_receive_queue) +
			     skb_queue_len_lockless(&udp_sk(sk)->reader_queue);
	bound = inet_sk(sk)->inet_num != 0;
	/* A TCP socket between connect() and close is connected here. */
	connected = in->state != TCP_CLOSE && in->state != TCP_LISTEN;
	release_sock(sk);

	/* getname fills what it returns; the rest goes out as zeroes. */
	memset(&in->addr, 0, sizeof(in->addr));
	memset(&in->peer, 0, sizeof(in->peer));
	if (bound) {
		len = kernel_getsockname(sock, (struct sockaddr *)&in->addr);
		if (len < 0)
			return len;
		in->addr_len = min_t(u32, len, sizeof(in->addr));
	}
	if (connected) {
		/* Not connected any more (a reset meanwhile): no peer. */
		len = kernel_getpeername(sock, (struct sockaddr *)&in->peer);
		if (len > 0)
			in->peer_len = min_t(u32, len, sizeof(in->peer));
	}
	return 0;
}
