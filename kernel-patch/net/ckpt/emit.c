// SPDX-License-Identifier: GPL-2.0
/*
 * Building stream messages and sending them to the sink without loss.
 *
 * Why a blocking netlink_unicast() from the requester's context, and how the
 * wait is bounded:
 *
 * genlmsg_unicast() sends with MSG_DONTWAIT: into a full socket the message
 * is dropped and the receiver gets ENOBUFS. netlink_unicast(..., nonblock=0)
 * instead sleeps in netlink_attachskb() until the receiver drains, as kauditd
 * does; that gives backpressure with no credit protocol. The family has
 * parallel_ops, so no genl lock is held while we sleep, and producers drop
 * every lock of the target before they send (checkpoint.c).
 *
 * netlink_attachskb() sleeps TASK_INTERRUPTIBLE for the *sending socket's*
 * sk_sndtimeo, which for the shared per-netns genl socket is "forever", and
 * that socket is not ours to tune. So each stream sends from a kernel
 * netlink socket of its own (sock_create_kern(), never bound, so the sink
 * sees port 0 like any kernel message; pooled per netns, see sink.c) whose
 * sk_sndtimeo is the request's timeout: one
 * message may wait at most that long, then netlink_unicast() returns -EAGAIN
 * and we abort with CKPT_ABORT_REASON_SINK_TIMEOUT. A signal to the
 * requester (SIGKILL included) ends the wait with -ERESTARTSYS: abort with
 * CKPT_ABORT_REASON_INTERRUPTED. A sink that closes wakes the waiter and the
 * retry finds no socket (-ECONNREFUSED): abort with SINK_GONE; a sink closed
 * between two messages is caught by its registration generation before the
 * next send. The wait is therefore interruptible (a superset of killable)
 * and bounded by the timeout per message: a sink that keeps reading, however
 * slowly, never times out.
 */
#include <linux/crc32c.h>
#include <linux/ktime.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <net/sock.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

/*
 * Size of a CKPT_CMD_RECORD message without its meta nest and data:
 * crid, data-len, data-offset (u64 with pad) and seq, type, id, parent (u32).
 */
#define CKPT_REC_FIXED	(3 * nla_total_size_64bit(sizeof(u64)) + \
			 4 * nla_total_size(sizeof(u32)))
/*
 * Largest meta nest: the nest header, at most 26 u64 or u32 fields (16
 * bytes each with pad) and the longest strings: a path, comm, release and
 * arch.
 */
#define CKPT_META_MAX	(nla_total_size(0) + 26 * nla_total_size_64bit(8) + \
			 nla_total_size(PATH_MAX) + nla_total_size(TASK_COMM_LEN) + \
			 2 * nla_total_size(__NEW_UTS_LEN + 1))
/* Begin, end and abort messages: a few u32/u64 and the abort's text. */
#define CKPT_CTL_MAX	(4 * nla_total_size_64bit(sizeof(u64)) + \
			 4 * nla_total_size(sizeof(u32)) + nla_total_size(128))

int ckpt_stream_open(struct ckpt_stream *s, struct net *net, u32 timeout_ms,
		     struct netlink_ext_ack *extack)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->net = net;
	if (ckpt_sink_get(net, &s->sink_portid, &s->sink_gen)) {
		NL_SET_ERR_MSG(extack, "no capture sink registered in this network namespace");
		return -ENOTCONN;
	}
	s->path = kmalloc(PATH_MAX, GFP_KERNEL);
	s->pages = kmalloc_array(CKPT_PAGES_RUN_MAX, sizeof(*s->pages),
				 GFP_KERNEL);
	if (!s->path || !s->pages) {
		NL_SET_ERR_MSG(extack, "no memory for the stream");
		err = -ENOMEM;
		goto out_free;
	}
	s->cs = ckpt_sock_get(net);
	if (!s->cs) {
		NL_SET_ERR_MSG(extack, "cannot create the stream's sending socket");
		err = -ENOMEM;
		goto out_free;
	}
	s->sock = s->cs->sock;
	if (!timeout_ms)
		timeout_ms = READ_ONCE(ckpt_timeout_ms);
	s->sock->sk->sk_sndtimeo = msecs_to_jiffies(timeout_ms);
	s->crid = ckpt_next_crid();
	s->crc = ~0U;
	return 0;

out_free:
	kfree(s->pages);
	kfree(s->path);
	s->pages = NULL;
	s->path = NULL;
	return err;
}

void ckpt_stream_close(struct ckpt_stream *s)
{
	kfree_skb(s->skb);
	s->skb = NULL;
	if (s->cs)
		ckpt_sock_put(s->net, s->cs);
	s->cs = NULL;
	s->sock = NULL;
	kfree(s->path);
	s->path = NULL;
	kfree(s->pages);
	s->pages = NULL;

	atomic64_inc(&ckpt_stats.streams);
	atomic64_add(s->records, &ckpt_stats.records);
	atomic64_add(s->bytes, &ckpt_stats.bytes);
	atomic64_add(s->wait_ns, &ckpt_stats.wait_ns);
	if (s->reason)
		atomic64_inc(&ckpt_stats.aborts);
}

static void ckpt_set_abort(struct ckpt_stream *s, u32 reason, int err,
			   const char *why)
{
	if (s->reason)
		return;
	s->reason = reason;
	s->err = err;
	s->why = why;
}

/* Sends and consumes @skb; on failure marks the stream aborted. */
static int ckpt_send(struct ckpt_stream *s, struct sk_buff *skb)
{
	u64 t0;
	int err;

	if (READ_ONCE(ckpt_unloading)) {
		kfree_skb(skb);
		ckpt_set_abort(s, CKPT_ABORT_REASON_UNLOAD, -ESHUTDOWN,
			       "the ckpt module is being unloaded");
		return -ESHUTDOWN;
	}
	if (!ckpt_sink_is(s->net, s->sink_portid, s->sink_gen)) {
		kfree_skb(skb);
		ckpt_set_abort(s, CKPT_ABORT_REASON_SINK_GONE, -EPIPE,
			       "the capture sink went away");
		return -EPIPE;
	}

	t0 = ktime_get_ns();
	err = netlink_unicast(s->sock->sk, skb, s->sink_portid, 0);
	s->wait_ns += ktime_get_ns() - t0;
	if (err >= 0) {
		s->seq++;
		return 0;
	}

	switch (err) {
	case -EAGAIN:
		ckpt_set_abort(s, CKPT_ABORT_REASON_SINK_TIMEOUT, -ETIMEDOUT,
			       "the sink did not drain within the timeout");
		return -ETIMEDOUT;
	case -ERESTARTSYS:
	case -EINTR:
		ckpt_set_abort(s, CKPT_ABORT_REASON_INTERRUPTED, -EINTR,
			       "the requester was interrupted");
		return -EINTR;
	case -ECONNREFUSED:
		ckpt_set_abort(s, CKPT_ABORT_REASON_SINK_GONE, -EPIPE,
			       "the capture sink went away");
		return -EPIPE;
	default:
		ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, err,
			       "sending to the sink failed");
		return err;
	}
}

static struct sk_buff *ckpt_ctl_new(struct ckpt_stream *s, u8 cmd,
				    void **hdr)
{
	struct sk_buff *skb = genlmsg_new(CKPT_CTL_MAX, GFP_KERNEL);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &ckpt_nl_family, 0, cmd);
	if (!*hdr ||
	    nla_put_u64_64bit(skb, CKPT_A_CRID, s->crid, CKPT_A_PAD) ||
	    nla_put_u32(skb, CKPT_A_SEQ, s->seq)) {
		/* CKPT_CTL_MAX covers these: a bug if not. */
		WARN_ON_ONCE(1);
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

int ckpt_stream_begin(struct ckpt_stream *s, u32 pid)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ckpt_ctl_new(s, CKPT_CMD_STREAM_BEGIN, &hdr);
	if (!skb || nla_put_u32(skb, CKPT_A_PID, pid)) {
		kfree_skb(skb);
		ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, -ENOMEM,
			       "no memory for a stream message");
		return -ENOMEM;
	}
	genlmsg_end(skb, hdr);
	return ckpt_send(s, skb);
}

int ckpt_stream_end(struct ckpt_stream *s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ckpt_ctl_new(s, CKPT_CMD_STREAM_END, &hdr);
	if (!skb ||
	    nla_put_u64_64bit(skb, CKPT_A_RECORDS, s->records, CKPT_A_PAD) ||
	    nla_put_u64_64bit(skb, CKPT_A_BYTES, s->bytes, CKPT_A_PAD) ||
	    nla_put_u32(skb, CKPT_A_CHECKSUM, ~s->crc)) {
		kfree_skb(skb);
		ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, -ENOMEM,
			       "no memory for a stream message");
		return -ENOMEM;
	}
	genlmsg_end(skb, hdr);
	return ckpt_send(s, skb);
}

/*
 * Ends the stream with CKPT_CMD_STREAM_ABORT when the sink can still take
 * it. The abort itself waits at most a second: a sink that timed out is
 * full, and the missing end message already tells it the stream failed.
 */
void ckpt_stream_abort(struct ckpt_stream *s, u32 reason, int err,
		       const char *why)
{
	struct sk_buff *skb;
	void *hdr;

	ckpt_set_abort(s, reason, err, why);
	kfree_skb(s->skb);
	s->skb = NULL;
	if (s->reason == CKPT_ABORT_REASON_SINK_GONE ||
	    !ckpt_sink_is(s->net, s->sink_portid, s->sink_gen))
		return;

	skb = ckpt_ctl_new(s, CKPT_CMD_STREAM_ABORT, &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, CKPT_A_REASON, s->reason) ||
	    nla_put_string(skb, CKPT_A_MESSAGE, s->why)) {
		WARN_ON_ONCE(1);
		kfree_skb(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	s->sock->sk->sk_sndtimeo = min_t(long, s->sock->sk->sk_sndtimeo, HZ);
	if (netlink_unicast(s->sock->sk, skb, s->sink_portid, 0) >= 0)
		s->seq++;
}

void ckpt_rec_init(struct ckpt_stream *s, struct ckpt_rec *rec, u32 type,
		   u32 parent, u64 data_len)
{
	rec->type = type;
	rec->id = ++s->last_id;
	rec->parent = parent;
	rec->data_len = data_len;
	rec->offset = 0;
}

/*
 * Starts the next fragment of @rec carrying @len data bytes. The first
 * fragment (data offset 0) opens the meta nest: the caller puts the record's
 * meta attributes and calls ckpt_meta_end(); then, in any fragment with
 * data, ckpt_frag_data(); then ckpt_frag_send().
 */
int ckpt_frag_begin(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len)
{
	bool first = rec->offset == 0;
	size_t size = CKPT_REC_FIXED;
	struct sk_buff *skb;

	if (WARN_ON_ONCE(s->skb || len > CKPT_FRAG_DATA ||
			 rec->offset + len > rec->data_len))
		return -EINVAL;
	/* The mm we read stays alive while we hold it: notice the exit. */
	if (s->task && (s->task->flags & PF_EXITING)) {
		ckpt_set_abort(s, CKPT_ABORT_REASON_TASK_EXITED, -ESRCH,
			       "the task exited during the checkpoint");
		return -ESRCH;
	}
	if (first)
		size += CKPT_META_MAX;
	if (len)
		size += nla_total_size(len);

	skb = genlmsg_new(size, GFP_KERNEL);
	if (!skb)
		goto nomem;
	s->hdr = genlmsg_put(skb, 0, 0, &ckpt_nl_family, 0, CKPT_CMD_RECORD);
	if (!s->hdr ||
	    nla_put_u64_64bit(skb, CKPT_A_CRID, s->crid, CKPT_A_PAD) ||
	    nla_put_u32(skb, CKPT_A_SEQ, s->seq) ||
	    nla_put_u32(skb, CKPT_A_REC_TYPE, rec->type) ||
	    nla_put_u32(skb, CKPT_A_REC_ID, rec->id) ||
	    nla_put_u32(skb, CKPT_A_REC_PARENT, rec->parent) ||
	    nla_put_u64_64bit(skb, CKPT_A_DATA_LEN, rec->data_len, CKPT_A_PAD) ||
	    nla_put_u64_64bit(skb, CKPT_A_DATA_OFFSET, rec->offset, CKPT_A_PAD))
		goto bug;
	s->meta = NULL;
	if (first) {
		s->meta = nla_nest_start(skb, CKPT_A_META);
		if (!s->meta)
			goto bug;
		s->records++;
	}
	s->skb = skb;
	s->data = NULL;
	s->data_len = 0;
	return 0;

bug:
	/* size covers every attribute put here. */
	WARN_ON_ONCE(1);
	kfree_skb(skb);
nomem:
	ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, -ENOMEM,
		       "no memory for a stream message");
	return -ENOMEM;
}

/* Closes the meta nest; its payload is part of the stream's checksum. */
int ckpt_meta_end(struct ckpt_stream *s)
{
	if (WARN_ON_ONCE(!s->meta))
		return -EINVAL;
	nla_nest_end(s->skb, s->meta);
	s->crc = crc32c(s->crc, nla_data(s->meta), nla_len(s->meta));
	s->bytes += nla_len(s->meta);
	return 0;
}

/* Reserves @len data bytes in the message for the caller to fill. */
void *ckpt_frag_data(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len)
{
	struct nlattr *nla = nla_reserve(s->skb, CKPT_A_DATA, len);

	if (WARN_ON_ONCE(!nla || s->data))
		return NULL;
	s->data = nla_data(nla);
	s->data_len = len;
	rec->offset += len;
	return s->data;
}

int ckpt_frag_send(struct ckpt_stream *s)
{
	struct sk_buff *skb = s->skb;

	if (s->data) {
		s->crc = crc32c(s->crc, s->data, s->data_len);
		s->bytes += s->data_len;
	}
	s->skb = NULL;
	genlmsg_end(skb, s->hdr);
	return ckpt_send(s, skb);
}
