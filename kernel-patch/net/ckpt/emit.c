// SPDX-License-Identifier: GPL-2.0
/*
 * Building stream messages and delivering them to the sink without loss.
 *
 * Streams are produced on ckpt_wq, never in a genl doit (stream.c says
 * why), so a wait here holds no genl lock and no lock of the target.
 *
 * Delivery: ckpt_sock_queue() puts a message on the receive queue of the
 * registered socket itself (held since admission), not of whatever socket
 * holds its port number: netlink_unicast() looks the port up again after
 * every wait, and a sink that closed mid-wait could have its port taken by
 * another socket. The accounting is netlink's own (skb_set_owner_r(), the
 * receive buffer limit), and the reader's recvmsg() is unchanged.
 *
 * Backpressure: while the sink's queue is over its receive buffer,
 * ckpt_sink_wait() sleeps in steps of 20 us to 2 ms and re-checks. (The
 * in-tree form could sleep on the socket with netlink_attachskb(), as
 * mqueue does; modules cannot call it.) Every step checks what ends a
 * stream: the module unloading, the sink closed or unregistered, the
 * requester's socket closed, and the stream's deadline, which bounds the
 * whole stream, not each message. A sink that keeps reading, however
 * slowly, loses nothing and only runs into the deadline.
 *
 * Checksums are made at delivery, not while a message is built
 * (ckpt_msg_seal()): a fragment's data checksum and the stream's running
 * checksum over meta and data, in the order the sink receives them.
 *
 * Holding (CKPT_CHECKPOINT_FLAGS_HOLD): while the stream reads a stopped
 * task, its messages go to a queue of its own (s->held) instead of
 * waiting for the sink, and a second work item (ckpt_drain_work(), on
 * ckpt_drain_wq) checksums and delivers them with the same backpressure.
 * The task is continued as soon as it is read (stream.c: by the kernel if
 * it stopped the task, else by the requester on checkpoint-read), while
 * the queue still drains: its freeze is the copy of its memory, not the
 * sink's reading of it. What all streams hold together is bounded by
 * hold_total_mib and charged to each requester like the rest of its
 * stream; past that bound, or near its requester's memory cgroup limit
 * (ckpt_hold_take()), a stream waits for its own queue as it would for
 * the sink.
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/mm.h>
#include <linux/skbuff.h>
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
/* A fragment with data carries its CKPT_A_DATA_CHECKSUM before the data. */
#define CKPT_DATA_SUM_SIZE	nla_total_size(sizeof(u32))
/*
 * Largest meta nest: the nest header, at most 30 u64 or u32 fields (16
 * bytes each with pad) and the longest strings: a path, comm, release and
 * arch.
 */
#define CKPT_META_MAX	(nla_total_size(0) + 30 * nla_total_size_64bit(8) + \
			 nla_total_size(PATH_MAX) + nla_total_size(TASK_COMM_LEN) + \
			 2 * nla_total_size(__NEW_UTS_LEN + 1))
/* Begin, end and abort messages: a few u32/u64 and the abort's text. */
#define CKPT_CTL_MAX	(4 * nla_total_size_64bit(sizeof(u64)) + \
			 4 * nla_total_size(sizeof(u32)) + nla_total_size(128))

/*
 * The first abort wins. Two threads of one stream may abort it at once
 * (the producer and its drainer): err and why are written before reason
 * is published, under the stream's lock.
 */
void ckpt_set_abort(struct ckpt_stream *s, u32 reason, int err,
		    const char *why)
{
	spin_lock(&s->abort_lock);
	if (!s->reason) {
		s->err = err;
		s->why = why;
		/* Pairs with the acquire in ckpt_stream_check(): err and why first. */
		smp_store_release(&s->reason, reason);
	}
	spin_unlock(&s->abort_lock);
}

/*
 * What ends a stream from outside, checked before every message and at
 * every step of a wait. Returns 0 or the abort's errno (s->reason set).
 */
int ckpt_stream_check(struct ckpt_stream *s)
{
	/* Pairs with ckpt_set_abort()'s release: a reason seen, its err is too. */
	if (smp_load_acquire(&s->reason))
		return s->err;
	if (READ_ONCE(ckpt_unloading))
		ckpt_set_abort(s, CKPT_ABORT_REASON_UNLOAD, -ESHUTDOWN,
			       "the ckpt module is being unloaded");
	else if (!ckpt_sink_is(s->net, &s->sink))
		ckpt_set_abort(s, CKPT_ABORT_REASON_SINK_GONE, -EPIPE,
			       "the capture sink went away");
	else if (sock_flag(s->req_sk, SOCK_DEAD))
		ckpt_set_abort(s, CKPT_ABORT_REASON_REQUESTER_GONE, -EINTR,
			       "the requester closed its socket");
	else if (time_after(jiffies, s->deadline))
		ckpt_set_abort(s, CKPT_ABORT_REASON_SINK_TIMEOUT, -ETIMEDOUT,
			       "the stream did not end within its timeout");
	return smp_load_acquire(&s->reason) ? s->err : 0;	/* as above */
}

/* One step of a wait for the sink: 20 us at first, doubling up to 2 ms. */
static void ckpt_wait_step(unsigned int *us)
{
	usleep_range(*us, 2 * *us);
	*us = min(2 * *us, 2000U);
}

/* Until the sink's queue has room: bounded by ckpt_stream_check(). */
static int ckpt_sink_wait(struct ckpt_stream *s)
{
	struct sock *sk = s->sink.sk;
	unsigned int us = 20;
	u64 t0 = 0;
	int err;

	while (!(err = ckpt_stream_check(s)) &&
	       atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf)) {
		if (!t0)
			t0 = ktime_get_ns();
		ckpt_wait_step(&us);
	}
	if (t0)
		s->wait_ns += ktime_get_ns() - t0;
	return err;
}

/*
 * Queues @skb (consumed) on @sk itself, as netlink_sendskb() does: the
 * receiver sees a message from port 0, the kernel. The caller decided
 * there is room; a dead socket frees the queue when its last reference
 * goes.
 */
int ckpt_sock_queue(struct sock *sk, struct sk_buff *skb)
{
	unsigned int len = skb->len;

	skb_set_owner_r(skb, sk);
	skb_queue_tail(&sk->sk_receive_queue, skb);
	sk->sk_data_ready(sk);
	return len;
}

/* The CRC-32C of a paged data attribute's bytes: the skb's page fragments. */
static u32 ckpt_frags_crc(struct sk_buff *skb)
{
	u32 crc = ~0U;
	int i;

	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];
		void *p = kmap_local_page(skb_frag_page(frag));

		crc = ckpt_crc32c(crc, p + skb_frag_off(frag), skb_frag_size(frag));
		kunmap_local(p);
	}
	return crc;
}

/*
 * Checksums @skb before it is delivered. Its attributes are walked in the
 * linear part: the meta nest's payload goes into the stream's checksum;
 * CKPT_A_DATA, always the last (ckpt_frag_data(), ckpt_frag_pages()), is
 * checksummed alone into the CKPT_A_DATA_CHECKSUM before it, then into the
 * stream's. For CRC-32C crc(c, B) = shift(c, |B|) ^ crc(0, B), so with
 * crc(~0, B) computed once, crc(c, B) = shift(c ^ ~0, |B|) ^ crc(~0, B):
 * one multiplication (ckpt_crc32c_shift()), not a second pass over B.
 * Messages without meta or data (begin, end) change nothing.
 */
static void ckpt_msg_seal(struct ckpt_stream *s, struct sk_buff *skb)
{
	struct nlmsghdr *nlh = nlmsg_hdr(skb);
	struct nlattr *nla = genlmsg_data(nlmsg_data(nlh));
	int rem = skb_headlen(skb) - ((void *)nla - (void *)nlh);
	u32 *sum = NULL;

	while (rem >= NLA_HDRLEN) {
		u16 type = nla_type(nla);

		if (type == CKPT_A_META) {
			s->crc = ckpt_crc32c(s->crc, nla_data(nla), nla_len(nla));
			s->bytes += nla_len(nla);
		} else if (type == CKPT_A_DATA_CHECKSUM) {
			sum = nla_data(nla);
		} else if (type == CKPT_A_DATA) {
			u32 len = nla_len(nla), crc;

			/* In page fragments (beyond the linear part) or in the linear part. */
			crc = skb_is_nonlinear(skb) ? ckpt_frags_crc(skb) :
						      ckpt_crc32c(~0U, nla_data(nla), len);
			if (!WARN_ON_ONCE(!sum))
				*sum = ~crc;
			s->crc = ckpt_crc32c_shift(s->crc ^ ~0U, len) ^ crc;
			s->bytes += len;
			return;
		}
		rem -= NLA_ALIGN(nla->nla_len);
		nla = (void *)nla + NLA_ALIGN(nla->nla_len);
	}
}

/* Seals, waits for room, delivers and consumes @skb; on failure marks the stream aborted. */
static int ckpt_deliver(struct ckpt_stream *s, struct sk_buff *skb)
{
	int err = ckpt_sink_wait(s);

	if (err) {
		kfree_skb(skb);
		return err;
	}
	ckpt_msg_seal(s, skb);
	ckpt_sock_queue(s->sink.sk, skb);
	return 0;
}

/* Bytes of messages all holding streams hold: at most hold_total_mib. */
static atomic_long_t ckpt_held_total = ATOMIC_LONG_INIT(0);

/*
 * Pages the requester's memory cgroup can still be charged: the least room
 * (limit less use) at any level of its hierarchy. A racy read, as
 * mem_cgroup_margin() is: it only decides whether to hold.
 */
static unsigned long ckpt_memcg_room(struct mem_cgroup *memcg)
{
	unsigned long room = ULONG_MAX;
#ifdef CONFIG_MEMCG
	struct page_counter *c;

	if (!memcg)		/* memory cgroups disabled at boot */
		return room;
	for (c = &memcg->memory; c; c = c->parent) {
		unsigned long max = READ_ONCE(c->max), use = page_counter_read(c);

		room = min(room, max > use ? max - use : 0);
	}
#endif
	return room;
}

/*
 * Room for @size more held bytes, taken, or false. Two bounds: all
 * streams' held bytes within hold_total_mib, and the requester's memory
 * cgroup left with room for what a stream needs without holding (twice
 * its ring, for the pages the sink's queue still refers to, and
 * CKPT_HOLD_SPARE for its other messages). The messages built under the
 * task's locks cannot wait for the queue to drain when an allocation
 * fails (ckpt_hold_relieve()), so holding stops before the cgroup is full.
 */
#define CKPT_HOLD_SPARE		(8UL << (20 - PAGE_SHIFT))
static unsigned long ckpt_hold_margin(struct ckpt_stream *s)
{
	return 2UL * s->ring_max + CKPT_HOLD_SPARE;
}

/*
 * The stream's reserve (ckpt_hold_reserve()) is charged already and its
 * credit counted in ckpt_held_total: a message whose pages came from it
 * takes the credit first and counts the reserve's pages as room.
 */
static bool ckpt_hold_take(struct ckpt_stream *s, unsigned int size)
{
	long max = (long)READ_ONCE(ckpt_hold_total_mib) << 20;
	long credit = min_t(long, s->hold_credit, size);
	unsigned long need = (size >> PAGE_SHIFT) + ckpt_hold_margin(s);

	/* Not room + reserve_nr: room is ULONG_MAX without memory cgroups. */
	need -= min(need, s->reserve_nr);
	if (ckpt_memcg_room(s->memcg) < need)
		return false;
	if (credit == size ||
	    atomic_long_add_return(size - credit, &ckpt_held_total) <= max) {
		s->hold_credit -= credit;
		return true;
	}
	atomic_long_sub(size - credit, &ckpt_held_total);
	return false;
}

/*
 * Allocates pages onto @list in chunks of CKPT_RESERVE_CHUNK claimed from
 * s->reserve_todo, which the stream's work and its helper share: whichever
 * has a CPU allocates more. Checks the stream's end before every chunk; an
 * allocation that fails ends the reserve for both. Returns the pages added.
 */
#define CKPT_RESERVE_CHUNK	256
static unsigned long ckpt_reserve_pages(struct ckpt_stream *s, struct list_head *list)
{
	unsigned long got = 0;
	long todo;

	while ((todo = atomic_long_fetch_sub(CKPT_RESERVE_CHUNK, &s->reserve_todo)) > 0) {
		long i, n = min_t(long, todo, CKPT_RESERVE_CHUNK);

		cond_resched();
		if (ckpt_stream_check(s))
			break;
		for (i = 0; i < n; i++) {
			struct page *page = alloc_page(CKPT_GFP_STREAM);

			if (!page) {
				atomic_long_set(&s->reserve_todo, 0);
				return got;
			}
			list_add(&page->lru, list);
			got++;
		}
	}
	return got;
}

/* The reserve's second worker (ckpt_hold_reserve()): its pages on reserve_helper. */
void ckpt_reserve_work(struct work_struct *work)
{
	struct ckpt_stream *s = container_of(work, struct ckpt_stream, reserve_work);
	struct mem_cgroup *memcg = set_active_memcg(s->memcg);

	s->reserve_helper_nr = ckpt_reserve_pages(s, &s->reserve_helper);
	set_active_memcg(memcg);
}

/*
 * The pages a holding stream will copy its task's memory into, allocated
 * before the task is stopped (stream.c), so that allocating them, and the
 * zeroing of each new page (init_on_alloc), is not part of its freeze:
 * under TCG that zeroing was most of the producer's time in the freeze
 * (docs/benchmarks.md, session 39). A task its requester stopped is
 * stopped already, and there the allocation is part of the freeze, unless
 * the request has await-go: then the task is stopped by its requester
 * after checkpoint-reserved (a tree: stream.c). As many as
 * the task has anonymous and shared memory resident (building on a
 * pre-copy, no more anonymous pages than the dirty ranges span: no other
 * is copied), within what the stream could hold anyway: the room left
 * under hold_total_mib, which the reserve takes at once as the stream's
 * credit, and under its requester's memory cgroup less the margin
 * ckpt_hold_take() keeps. An estimate: pages it lacks are allocated in the
 * freeze as without it; pages left over are freed once the task is read
 * (ckpt_hold_unreserve()). Bounded in time like the stream: stops when it
 * is aborted (deadline, unload, sink or requester gone).
 *
 * The allocation is in the checkpoint's time before the freeze (the dump),
 * so from CKPT_RESERVE_SPLIT pages on, with more than one CPU online, a
 * second worker shares it, one of the unbound drain queue (nothing is held
 * yet, so no drainer of this stream needs it): the two zero their pages
 * side by side where a CPU is free (docs/benchmarks.md, session 40). When
 * this work has claimed the last chunk, it cancels a helper that has not
 * started, or waits for the one chunk a running helper may still be on.
 */
#define CKPT_RESERVE_SPLIT	(8UL << (20 - PAGE_SHIFT))
void ckpt_hold_reserve(struct ckpt_stream *s)
{
	long max = (long)READ_ONCE(ckpt_hold_total_mib) << 20;
	long left = max - atomic_long_read(&ckpt_held_total);
	unsigned long room = ckpt_memcg_room(s->memcg);
	unsigned long margin = ckpt_hold_margin(s), want, got;
	bool helped;

	want = get_mm_counter(s->mm, MM_ANONPAGES);
	if (s->dirty)	/* building on a pre-copy: only the written ranges are copied */
		want = min(want, ckpt_dirty_pages(s));
	want += get_mm_counter(s->mm, MM_SHMEMPAGES);	/* sent whole either way */
	want = min(want, left > 0 ? (unsigned long)left >> PAGE_SHIFT : 0);
	want = min(want, room > margin ? room - margin : 0);
	if (!want)
		return;
	if (atomic_long_add_return(want << PAGE_SHIFT, &ckpt_held_total) > max) {
		atomic_long_sub(want << PAGE_SHIFT, &ckpt_held_total);
		return;		/* another stream took the room meanwhile */
	}
	s->hold_credit = want << PAGE_SHIFT;
	atomic_long_set(&s->reserve_todo, want);
	s->reserve_helper_nr = 0;
	helped = want >= CKPT_RESERVE_SPLIT && num_online_cpus() > 1 &&
		 queue_work(ckpt_drain_wq, &s->reserve_work);
	got = ckpt_reserve_pages(s, &s->reserve);
	if (helped) {
		if (!cancel_work(&s->reserve_work))
			flush_work(&s->reserve_work);
		got += s->reserve_helper_nr;
		list_splice_init(&s->reserve_helper, &s->reserve);
	}
	s->reserve_nr = got;
	s->reserved = got;
	atomic_long_sub((want - got) << PAGE_SHIFT, &ckpt_held_total);
	s->hold_credit -= (want - got) << PAGE_SHIFT;
}

/* Frees what is left of the reserve and gives back what is left of its credit. */
void ckpt_hold_unreserve(struct ckpt_stream *s)
{
	struct page *page, *next;

	list_for_each_entry_safe(page, next, &s->reserve, lru) {
		list_del(&page->lru);
		put_page(page);
	}
	s->reserve_nr = 0;
	atomic_long_sub(s->hold_credit, &ckpt_held_total);
	s->hold_credit = 0;
}

/*
 * The drainer: delivers the held messages in order, checksumming each
 * first. It is the only reader of the stream's checksum and byte count
 * while messages are held, and stops with the stream: once it is aborted,
 * every held message is freed undelivered. Re-queued by every hold, so a
 * message held just after it found the queue empty is not left behind.
 */
void ckpt_drain_work(struct work_struct *work)
{
	struct ckpt_stream *s = container_of(work, struct ckpt_stream, drain);
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&s->held))) {
		unsigned int size = skb->truesize;

		if (!ckpt_deliver(s, skb))
			s->held_bytes += size;
		atomic_long_sub(size, &ckpt_held_total);
		/* Our writes above come before the producer sees the queue empty. */
		atomic_dec_return_release(&s->held_nr);
	}
}

/*
 * Until the drainer has delivered (or, aborted, freed) every held message:
 * bounded as its sink waits are, by the stream's deadline.
 */
int ckpt_hold_drain(struct ckpt_stream *s)
{
	flush_work(&s->drain);
	if (WARN_ON_ONCE(atomic_read_acquire(&s->held_nr) && !s->reason))
		return -EINVAL;
	return ckpt_stream_check(s);
}

/*
 * A page data allocation failed: a holding stream's own queue may be what
 * fills its memory cgroup. Waits until the drainer delivered it and the
 * sink's queue is back within its buffer (the sink frees what it reads),
 * then says to try once more; false when the stream holds nothing. Only
 * where no lock of the task is held: a page run's message and pages are
 * made after the pages were pinned and the mmap lock dropped.
 */
static bool ckpt_hold_relieve(struct ckpt_stream *s)
{
	if (!s->holding || !atomic_read_acquire(&s->held_nr))
		return false;
	return !ckpt_hold_drain(s) && !ckpt_sink_wait(s);
}

/*
 * Sends and consumes @skb; on failure marks the stream aborted. A holding
 * stream queues it for the drainer while there is room; past the bound it
 * waits, and sends it itself once its own queue is empty (the others'
 * may stay full: their sinks bound them, not this stream).
 */
static int ckpt_send(struct ckpt_stream *s, struct sk_buff *skb)
{
	unsigned int us = 20;
	int err;

	while (s->holding) {
		err = ckpt_stream_check(s);
		if (err) {
			kfree_skb(skb);
			return err;
		}
		if (ckpt_hold_take(s, skb->truesize)) {
			atomic_inc(&s->held_nr);
			skb_queue_tail(&s->held, skb);
			queue_work(ckpt_drain_wq, &s->drain);
			s->seq++;
			return 0;
		}
		if (!atomic_read_acquire(&s->held_nr))
			break;
		ckpt_wait_step(&us);
	}
	err = ckpt_deliver(s, skb);
	if (!err)
		s->seq++;
	return err;
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
 * it: it waits for room at most a second. A sink that timed out is full,
 * and the missing end message already tells it the stream failed.
 */
void ckpt_stream_abort(struct ckpt_stream *s, u32 reason, int err,
		       const char *why)
{
	struct sock *sk = s->sink.sk;
	unsigned long until = jiffies + HZ;
	struct sk_buff *skb;
	void *hdr;

	ckpt_set_abort(s, reason, err, why);
	kfree_skb(s->skb);
	s->skb = NULL;
	if (s->reason == CKPT_ABORT_REASON_SINK_GONE ||
	    !ckpt_sink_is(s->net, &s->sink))
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
	while (atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf) &&
	       !sock_flag(sk, SOCK_DEAD) && time_before(jiffies, until))
		usleep_range(1000, 2000);
	if (atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf)) {
		kfree_skb(skb);
		return;
	}
	ckpt_sock_queue(sk, skb);
	s->seq++;
}

/*
 * A message @cmd to the requester, on the requesting socket itself, with the
 * request's nlmsg_seq and the crid; NULL when it would be dropped: the
 * requester left or let its queue fill (the socket receives nothing but
 * these), and then nobody waits for it.
 */
static struct sk_buff *ckpt_req_new(struct ckpt_stream *s, u8 cmd, void **hdr)
{
	struct sock *sk = s->req_sk;
	struct sk_buff *skb;

	if (sock_flag(sk, SOCK_DEAD) ||
	    atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf))
		return NULL;
	skb = genlmsg_new(CKPT_CTL_MAX, GFP_KERNEL);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, s->req_seq, &ckpt_nl_family, 0, cmd);
	if (WARN_ON_ONCE(!*hdr ||	/* CKPT_CTL_MAX covers these */
			 nla_put_u64_64bit(skb, CKPT_A_CRID, s->crid, CKPT_A_PAD))) {
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

/* Tells the requester how its checkpoint ended: CKPT_CMD_CHECKPOINT_DONE. */
void ckpt_stream_done(struct ckpt_stream *s)
{
	struct sk_buff *skb;
	void *hdr;
	int bad;

	skb = ckpt_req_new(s, CKPT_CMD_CHECKPOINT_DONE, &hdr);
	if (!skb)
		return;
	if (s->reason)
		bad = nla_put_u32(skb, CKPT_A_REASON, s->reason) ||
		      nla_put_string(skb, CKPT_A_MESSAGE, s->why) ||
		      nla_put_u32(skb, CKPT_A_ERROR, -s->err);
	else
		bad = nla_put_u64_64bit(skb, CKPT_A_RECORDS, s->records, CKPT_A_PAD) ||
		      nla_put_u64_64bit(skb, CKPT_A_BYTES, s->bytes, CKPT_A_PAD) ||
		      nla_put_u32(skb, CKPT_A_CHECKSUM, ~s->crc) ||
		      (s->stop && nla_put_u64_64bit(skb, CKPT_A_FROZEN_NS,
						    s->frozen_ns, CKPT_A_PAD));
	if (WARN_ON_ONCE(bad)) {	/* CKPT_CTL_MAX covers these */
		kfree_skb(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	ckpt_sock_queue(s->req_sk, skb);
}

/*
 * Tells the requester of a holding stream whose task it stopped itself that
 * the task has been read: CKPT_CMD_CHECKPOINT_READ, for it to end its
 * freeze while the rest of the stream waits in kernel memory. If it is
 * dropped, the requester learns at checkpoint-done, as without holding.
 */
void ckpt_stream_read(struct ckpt_stream *s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ckpt_req_new(s, CKPT_CMD_CHECKPOINT_READ, &hdr);
	if (!skb)
		return;
	genlmsg_end(skb, hdr);
	ckpt_sock_queue(s->req_sk, skb);
}

/*
 * Tells the requester of an await-go stream that its reserve is made
 * (CKPT_CMD_CHECKPOINT_RESERVED, with the pages in it), for it to stop the
 * task and give the go. If it is dropped, the requester's wait for it ends
 * at checkpoint-done, when the stream's deadline has passed.
 */
void ckpt_stream_reserved(struct ckpt_stream *s)
{
	struct sk_buff *skb;
	void *hdr;

	skb = ckpt_req_new(s, CKPT_CMD_CHECKPOINT_RESERVED, &hdr);
	if (!skb)
		return;
	if (WARN_ON_ONCE(nla_put_u64_64bit(skb, CKPT_A_RESERVED_PAGES, s->reserved,
					   CKPT_A_PAD))) {	/* CKPT_CTL_MAX covers it */
		kfree_skb(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	ckpt_sock_queue(s->req_sk, skb);
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
 * data, ckpt_frag_data() (@paged false: the data in the skb's own buffer)
 * or ckpt_frag_pages() (@paged true: in page fragments); then
 * ckpt_frag_send().
 */
static int ckpt_frag_open(struct ckpt_stream *s, struct ckpt_rec *rec,
			  u32 len, bool paged)
{
	bool first = rec->offset == 0;
	size_t size = CKPT_REC_FIXED;
	struct sk_buff *skb;

	if (WARN_ON_ONCE(s->skb || len > CKPT_FRAG_DATA ||
			 rec->offset + len > rec->data_len))
		return -EINVAL;
	/*
	 * The mm we read stays alive while we hold it: notice the exit. A
	 * zombie's stream reads what its exit left (checkpoint.c).
	 */
	if (!s->zombie && ckpt_task_exiting(s->task)) {
		ckpt_set_abort(s, CKPT_ABORT_REASON_TASK_EXITED, -ESRCH,
			       "the task exited during the checkpoint");
		return -ESRCH;
	}
	if (first)
		size += CKPT_META_MAX;
	/* The one record with a second path: the task's root beside its cwd. */
	if (first && rec->type == CKPT_RECORD_TYPE_TASK)
		size += nla_total_size(PATH_MAX);
	if (len)
		size += CKPT_DATA_SUM_SIZE +
			(paged ? NLA_HDRLEN : nla_total_size(len));
	/* The largest pages fragment fits its 64 KiB buffer (internal.h). */
	BUILD_BUG_ON(SKB_DATA_ALIGN(nlmsg_total_size(GENL_HDRLEN + CKPT_REC_FIXED +
						     CKPT_META_MAX +
						     CKPT_DATA_SUM_SIZE +
						     nla_total_size(CKPT_FRAG_DATA))) +
		     SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) > CKPT_FRAG_BUF);

	skb = genlmsg_new(size, CKPT_GFP_STREAM);
	if (!skb && paged && ckpt_hold_relieve(s))
		skb = genlmsg_new(size, CKPT_GFP_STREAM);
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
		goto out_free_skb;
	s->meta = NULL;
	if (first) {
		s->meta = nla_nest_start(skb, CKPT_A_META);
		if (!s->meta)
			goto out_free_skb;
		s->records++;
	}
	s->skb = skb;
	s->data = NULL;
	return 0;

out_free_skb:
	/* size covers every attribute put here. */
	WARN_ON_ONCE(1);
	kfree_skb(skb);
nomem:
	ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, -ENOMEM,
		       "no memory for a stream message");
	return -ENOMEM;
}

int ckpt_frag_begin(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len)
{
	return ckpt_frag_open(s, rec, len, false);
}

int ckpt_frag_begin_paged(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len)
{
	return ckpt_frag_open(s, rec, len, true);
}

/* Closes the meta nest (checksummed at delivery: ckpt_msg_seal()). */
int ckpt_meta_end(struct ckpt_stream *s)
{
	if (WARN_ON_ONCE(!s->meta))
		return -EINVAL;
	nla_nest_end(s->skb, s->meta);
	return 0;
}

/*
 * Reserves @len data bytes in the message for the caller to fill, after the
 * data checksum's place (filled at delivery: ckpt_msg_seal()).
 */
void *ckpt_frag_data(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len)
{
	struct nlattr *sum = nla_reserve(s->skb, CKPT_A_DATA_CHECKSUM,
					 sizeof(u32));
	struct nlattr *nla = sum ? nla_reserve(s->skb, CKPT_A_DATA, len) : NULL;

	if (WARN_ON_ONCE(!nla || s->data))
		return NULL;
	s->data = nla_data(nla);
	rec->offset += len;
	return s->data;
}

/*
 * Page data in page fragments. A message's data in its own buffer costs a
 * 64 KiB allocation per message, which the page allocator zeroes whole
 * (init_on_alloc, Debian's default) before the pages are copied over it:
 * under TCG that zeroing was 8 % of all samples of a checkpoint
 * (docs/benchmarks.md, runs 19-21). Instead each fragment's pages are
 * copied into pages of the stream's ring, attached to the skb behind the
 * CKPT_A_DATA header, and taken back once the sink has read them.
 *
 * The ring holds one reference to each of its pages; every skb that
 * carries one holds another (get_page()), dropped when the skb is freed,
 * after the reader copied it out. So a ring page whose count is 1 is in no
 * skb, and writing it is safe: the test network drivers use to reuse their
 * receive pages (ixgbe's ixgbe_can_reuse_rx_page()). Nobody else can take
 * a reference: the pages are never mapped or cached. A page still in the
 * sink's queue is left to its skbs and replaced by a new one.
 *
 * Size: what the sink's receive buffer can hold plus two messages, so that
 * the oldest page is normally read by the time it comes round; at most
 * CKPT_RING_MAX pages. The pages stay the stream's until it ends.
 */
#define CKPT_RING_MAX	4096

int ckpt_ring_alloc(struct ckpt_stream *s)
{
	unsigned int max = READ_ONCE(s->sink.sk->sk_rcvbuf) / PAGE_SIZE +
			   2 * (CKPT_FRAG_DATA >> PAGE_SHIFT);

	s->ring_max = min_t(unsigned int, max, CKPT_RING_MAX);
	s->ring = kvmalloc_array(s->ring_max, sizeof(*s->ring),
				 GFP_KERNEL_ACCOUNT);
	return s->ring ? 0 : -ENOMEM;
}

/* Drops the ring's pages (queued skbs keep theirs); may be called again. */
void ckpt_ring_free(struct ckpt_stream *s)
{
	unsigned int i;

	for (i = 0; i < s->ring_len; i++)
		put_page(s->ring[i]);
	kvfree(s->ring);
	s->ring = NULL;
	s->ring_len = 0;
}

/* A new page for the ring: from the hold reserve while it lasts. */
static struct page *ckpt_new_page(struct ckpt_stream *s)
{
	struct page *page = list_first_entry_or_null(&s->reserve, struct page, lru);

	if (!page)
		return alloc_page(CKPT_GFP_STREAM);
	list_del(&page->lru);
	s->reserve_nr--;
	return page;
}

/* A page to fill for the next fragment: the ring's oldest, or a new one. */
static struct page *ckpt_ring_page(struct ckpt_stream *s)
{
	struct page *page;

	if (s->ring_len < s->ring_max) {
		page = ckpt_new_page(s);
		if (page) {
			s->ring[s->ring_len++] = page;
			s->ring_new++;
		}
		return page;
	}
	page = s->ring[s->ring_next];
	if (page_ref_count(page) == 1) {
		/*
		 * The reader's last access came before its put_page(), a
		 * full barrier; ours come after this read.
		 */
		smp_acquire__after_ctrl_dep();
		s->ring_reused++;
	} else {
		page = ckpt_new_page(s);
		if (!page)
			return NULL;
		put_page(s->ring[s->ring_next]);	/* its skbs free it */
		s->ring[s->ring_next] = page;
		s->ring_new++;
	}
	if (++s->ring_next == s->ring_max)
		s->ring_next = 0;
	return page;
}

/*
 * The data of a fragment begun with ckpt_frag_begin_paged(): @nr pages
 * copied from @src into ring pages and attached as the skb's page
 * fragments (checksummed at delivery). The data attribute is the message's
 * last; ckpt_frag_send() sets the message's length.
 */
int ckpt_frag_pages(struct ckpt_stream *s, struct ckpt_rec *rec,
		    struct page **src, unsigned int nr)
{
	struct sk_buff *skb = s->skb;
	u32 len = nr << PAGE_SHIFT;
	struct nlattr *nla;
	unsigned int i;

	/* nla_len is 16 bits; MAX_SKB_FRAGS fragments fit an skb. */
	BUILD_BUG_ON(NLA_HDRLEN + CKPT_FRAG_DATA > U16_MAX ||
		     (CKPT_FRAG_DATA >> PAGE_SHIFT) > MAX_SKB_FRAGS);
	if (WARN_ON_ONCE(s->data || skb_is_nonlinear(skb) ||
			 len > CKPT_FRAG_DATA || rec->offset + len > rec->data_len ||
			 skb_tailroom(skb) < CKPT_DATA_SUM_SIZE + NLA_HDRLEN))
		return -EMSGSIZE;
	nla_reserve(skb, CKPT_A_DATA_CHECKSUM, sizeof(u32));
	nla = skb_put(skb, NLA_HDRLEN);
	nla->nla_type = CKPT_A_DATA;
	nla->nla_len = nla_attr_size(len);
	for (i = 0; i < nr; i++) {
		struct page *page = ckpt_ring_page(s);

		if (!page && ckpt_hold_relieve(s))
			page = ckpt_ring_page(s);
		if (!page) {
			ckpt_set_abort(s, CKPT_ABORT_REASON_NOMEM, -ENOMEM,
				       "no memory for a stream message");
			return -ENOMEM;
		}
		copy_highpage(page, src[i]);
		get_page(page);
		skb_add_rx_frag(skb, i, page, 0, PAGE_SIZE, PAGE_SIZE);
	}
	rec->offset += len;
	return 0;
}

int ckpt_frag_send(struct ckpt_stream *s)
{
	struct sk_buff *skb = s->skb;

	s->skb = NULL;
	genlmsg_end(skb, s->hdr);
	/* genlmsg_end() counts the linear part; page fragments follow it. */
	nlmsg_hdr(skb)->nlmsg_len = skb->len;
	return ckpt_send(s, skb);
}
