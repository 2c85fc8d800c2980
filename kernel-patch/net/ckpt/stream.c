// SPDX-License-Identifier: GPL-2.0
/*
 * A checkpoint's life: admitted by a short genl request, produced on a
 * workqueue, reported back to the requester.
 *
 * Why not inside the request: genl_rcv() holds genl's cb_lock for reading
 * around every doit, parallel_ops or not. A doit that waits for a slow
 * sink keeps it; a family (un)registration anywhere on the host (a module
 * load, rmmod of ckpt itself) then blocks in down_write(), and every later
 * request of every genl family queues behind that writer. So the request
 * only admits the stream, in this order (access.c has the checks):
 *
 *   resolve target -> requester's access, sink's access, pin mm
 *     (under exec_update_lock) -> native task? stopped (or SIGSTOP sent)?
 *   -> limits -> claim -> reply { crid }  (the doit returns: no lock kept)
 *
 * (a holding stream's SIGSTOP is sent by its work, once the pages it will
 * copy into are allocated: ckpt_hold_reserve(); with await-go the requester
 * stops the task itself, between checkpoint-reserved and its go:
 * ckpt_await_go()), and a work item on
 * ckpt_wq (an unbound workqueue, as kauditd's kernel thread owns audit's
 * slow sends) produces the stream, waiting for the sink as long as the
 * stream's deadline allows. A dump driven by the reader (WireGuard's
 * get-device) would send the records to the requester; here they go to a
 * separate sink, so the producer is the kernel's.
 *
 * When the stream ended, the requester gets CKPT_CMD_CHECKPOINT_DONE on
 * the socket it asked from, with the request's nlmsg_seq. That socket is
 * the requester's presence: when it closes (the requester exited or was
 * killed), the stream aborts with REQUESTER_GONE at its next message. A
 * handled signal (SIGCHLD, SIGWINCH) does not concern the stream at all.
 *
 * Bounds: at most max_streams streams run, user_streams per uid; each
 * holds one message buffer, two small scratch buffers and its ring of
 * page-data pages (the sink's receive buffer plus two messages, at most
 * CKPT_RING_MAX pages: emit.c), and ends by its deadline (timeout_ms, at
 * most CKPT_TIMEOUT_MAX_MS). All of it, and every message until the sink
 * reads it, is charged to the requester's memory cgroup: the work runs
 * with that cgroup active (set_active_memcg()), so the worker's
 * GFP_KERNEL_ACCOUNT allocations are the requester's, and one that does
 * not fit ends the stream with NOMEM instead of waking the OOM killer
 * (__GFP_RETRY_MAYFAIL). The requester's other allocations in a full
 * cgroup may still wake it, as for any memory it is charged. Module exit aborts every stream with
 * UNLOAD and destroy_workqueue() waits for them: each notices within one
 * wait step (2 ms) or one page run.
 */
#include <linux/capability.h>
#include <linux/jiffies.h>
#include <linux/memcontrol.h>
#include <linux/user_namespace.h>
#include <linux/pid_namespace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

struct workqueue_struct *ckpt_wq;
struct workqueue_struct *ckpt_drain_wq;
/*
 * A holding stream produces at high priority (nice -20 kworkers) when its
 * requester could raise its own so (CAP_SYS_NICE over the host): the task
 * is stopped for exactly as long as its producer runs, while the drainer
 * and the sink, which no task waits for any more, share what CPU is left
 * (under qemu's TCG, 0.53 against 0.70 of CRIU's freeze: docs/benchmarks.md,
 * session 38). Anyone else's on ckpt_wq: no priority it could not take.
 */
static struct workqueue_struct *ckpt_hold_wq;

static LIST_HEAD(ckpt_streams);
static DEFINE_SPINLOCK(ckpt_streams_lock);
static unsigned int ckpt_nr_streams;

/* Takes a slot for @uid's stream, or says which limit is reached. */
static int ckpt_stream_slot(struct ckpt_stream *s, struct netlink_ext_ack *extack)
{
	unsigned int mine = 0, others = 0;
	struct ckpt_stream *o;
	int err = 0;

	spin_lock(&ckpt_streams_lock);
	list_for_each_entry(o, &ckpt_streams, node) {
		mine += uid_eq(o->uid, s->uid);
		others += !o->admin;
	}
	err = ckpt_limit(ckpt_nr_streams, READ_ONCE(ckpt_max_streams), "max_streams",
			 mine, READ_ONCE(ckpt_user_streams), "user_streams",
			 others, s->admin, extack);
	if (!err) {
		list_add(&s->node, &ckpt_streams);
		ckpt_nr_streams++;
	}
	spin_unlock(&ckpt_streams_lock);
	return err;
}

/*
 * The memory a stream charged to its requester and needs no more once it
 * has ended; may be called again. Pages already queued to the sink stay
 * charged until the sink reads them.
 */
static void ckpt_stream_free_buffers(struct ckpt_stream *s)
{
	kfree_skb(s->skb);
	s->skb = NULL;
	skb_queue_purge(&s->held);	/* empty unless admission failed; the drainer has ended */
	kvfree(s->pages);
	s->pages = NULL;
	ckpt_ring_free(s);
	kvfree(s->dirty);
	s->dirty = NULL;
}

static void ckpt_stream_free(struct ckpt_stream *s)
{
	if (!list_empty(&s->node)) {
		spin_lock(&ckpt_streams_lock);
		list_del(&s->node);
		ckpt_nr_streams--;
		spin_unlock(&ckpt_streams_lock);
	}
	ckpt_stream_free_buffers(s);
	kfree(s->path);
	if (s->claim)
		ckpt_release(s->claim);
	if (s->mm)
		mmput(s->mm);
	if (s->task)
		put_task_struct(s->task);
	ckpt_sink_put(&s->sink);
	if (s->req_sk)
		sock_put(s->req_sk);
	if (s->pid_ns)
		put_pid_ns(s->pid_ns);
	if (s->cred)
		put_cred(s->cred);
	if (s->net)
		put_net(s->net);
	mem_cgroup_put(s->memcg);
	if (!s->crid) {		/* refused at admission: never a stream */
		kfree(s);
		return;
	}
	atomic64_inc(&ckpt_stats.streams);
	atomic64_add(s->records, &ckpt_stats.records);
	atomic64_add(s->bytes, &ckpt_stats.bytes);
	atomic64_add(s->wait_ns, &ckpt_stats.wait_ns);
	atomic64_add(s->ring_new, &ckpt_stats.frag_pages_new);
	atomic64_add(s->ring_reused, &ckpt_stats.frag_pages_reused);
	atomic64_add(s->held_bytes, &ckpt_stats.held_bytes);
	atomic64_add(s->reserved, &ckpt_stats.hold_reserved);
	if (s->reason)
		atomic64_inc(&ckpt_stats.aborts);
	kfree(s);
}

static u32 ckpt_abort_reason(int err, const char **why)
{
	switch (err) {
	case -ESRCH:
		*why = "the task exited during the checkpoint";
		return CKPT_ABORT_REASON_TASK_EXITED;
	case -EINTR:
		*why = "the checkpoint was interrupted";
		return CKPT_ABORT_REASON_INTERRUPTED;
	case -ENOMEM:
		*why = "out of memory";
		return CKPT_ABORT_REASON_NOMEM;
	case -EBUSY:
		*why = "a lock of the task stayed taken until the stream's deadline";
		return CKPT_ABORT_REASON_FAULT;
	default:
		*why = "reading the task failed";
		return CKPT_ABORT_REASON_FAULT;
	}
}

/* The task stops within 2 s (and the stream's own bounds), or the stream ends. */
static int ckpt_wait_stopped(struct ckpt_stream *s)
{
	unsigned long until = jiffies + 2 * HZ;
	int err;

	while (!(err = ckpt_stream_check(s)) && !ckpt_task_stopped(s->task)) {
		if (ckpt_task_exiting(s->task)) {
			ckpt_set_abort(s, CKPT_ABORT_REASON_TASK_EXITED, -ESRCH,
				       "the task exited while being stopped");
			return -ESRCH;
		}
		if (time_after(jiffies, until)) {
			ckpt_set_abort(s, CKPT_ABORT_REASON_FAULT, -EBUSY,
				       "the task did not stop within 2 s");
			return -EBUSY;
		}
		usleep_range(500, 1000);
	}
	return err;
}

/*
 * await-go: the reserve is made; says so and waits for the requester's
 * checkpoint-go (ckpt_stream_go()), within the stream's own bounds (its
 * deadline, the requester's socket, the sink, unload). A task that exits
 * meanwhile ends the stream at once, its reserve freed.
 */
static int ckpt_await_go(struct ckpt_stream *s)
{
	int err;

	ckpt_stream_reserved(s);
	/* Pairs with the release in ckpt_stream_go(). */
	while (!(err = ckpt_stream_check(s)) && !smp_load_acquire(&s->go)) {
		if (ckpt_task_exiting(s->task)) {
			ckpt_set_abort(s, CKPT_ABORT_REASON_TASK_EXITED, -ESRCH,
				       "the task exited before its go");
			return -ESRCH;
		}
		wait_event_timeout(s->go_wait, smp_load_acquire(&s->go),
				   msecs_to_jiffies(2));
	}
	return err;
}

static void ckpt_stream_work(struct work_struct *work)
{
	struct ckpt_stream *s = container_of(work, struct ckpt_stream, work);
	struct mem_cgroup *memcg = set_active_memcg(s->memcg);
	const char *why;
	int err;

	err = ckpt_stream_begin(s, pid_nr_ns(task_tgid(s->task), s->pid_ns));
	/* A holding stream stops its task only once its pages are allocated. */
	if (s->holding) {
		if (!err)
			ckpt_hold_reserve(s);
		if (s->stop) {
			s->stopped_at = ktime_get_ns();
			send_sig(SIGSTOP, s->task, 1);
		}
	}
	if (!err && s->await_go)
		err = ckpt_await_go(s);
	/* Stopped by us, or by the requester before its go. */
	if (!err && (s->stop || s->await_go))
		err = ckpt_wait_stopped(s);
	if (!err)
		err = ckpt_checkpoint_task(s, s->task);
	ckpt_hold_unreserve(s);
	/* Aborted first, so that a drainer frees what it holds instead of sending it. */
	if (err)
		ckpt_set_abort(s, ckpt_abort_reason(err, &why), err, why);
	/* Read (or failed): the task goes on, while what is held drains. */
	if (s->stop) {
		send_sig(SIGCONT, s->task, 1);
		s->frozen_ns = ktime_get_ns() - s->stopped_at;
	} else if (s->holding && !err) {
		ckpt_stream_read(s);	/* the requester's freeze to end */
	}
	if (s->holding) {
		int drained = ckpt_hold_drain(s);

		s->holding = false;
		if (!err)
			err = drained;
	}
	if (!err)
		err = ckpt_stream_end(s);
	if (err) {
		u32 reason = ckpt_abort_reason(err, &why);

		ckpt_stream_abort(s, reason, err, why);
	}
	/* Before the requester wakes: it may allocate in the cgroup they fill. */
	ckpt_stream_free_buffers(s);
	ckpt_stream_done(s);
	set_active_memcg(memcg);
	ckpt_stream_free(s);
}

static int ckpt_stream_reply(struct genl_info *info, u64 crid)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0, CKPT_CMD_CHECKPOINT);
	if (WARN_ON_ONCE(!hdr ||	/* sized above */
			 nla_put_u64_64bit(msg, CKPT_A_CRID, crid, CKPT_A_PAD))) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG(info->extack, "reply too large");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * A zombie has no mm, files or fs, and runs nothing: it cannot exec or
 * change its credentials any more, so what the requester's check saw is
 * what the stream reads, without a lock. The sink's owner is checked as
 * for a live task; memory options mean nothing for it.
 */
static int ckpt_zombie_admit(struct ckpt_stream *s, struct genl_info *info, u32 flags)
{
	if ((flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY) || info->attrs[CKPT_A_PARENT_CRID] ||
	    info->attrs[CKPT_A_DIRTY_RANGES]) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
				    "the task is a zombie: it has no memory for a pre-copy or a parent to build on");
		return -EINVAL;
	}
	if (ckpt_cred_may_access(s->sink.cred, s->task)) {
		NL_SET_ERR_MSG(info->extack, CKPT_SINK_DENIED);
		return -EACCES;
	}
	return 0;
}

/* A live task: its mm pinned where access was checked, stopped or to be. */
static int ckpt_live_admit(struct ckpt_stream *s, struct sk_buff *skb,
			   struct genl_info *info, u32 flags)
{
	struct nlattr *pid_attr = info->attrs[CKPT_A_PID];
	struct task_struct *task = s->task;
	int err;

	err = ckpt_pin_mm(skb, task, s->sink.cred, &s->mm, &s->exec_id,
			  info->extack);
	if (err)
		return err;
	err = ckpt_task_native(task, s->mm, info->extack);
	if (err)
		return err;
	if ((flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY) && (flags & CKPT_CHECKPOINT_FLAGS_STOP)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_CHECKPOINT_FLAGS],
				    "a pre-copy reads the running task: not with stop");
		return -EINVAL;
	}
	if ((flags & CKPT_CHECKPOINT_FLAGS_HOLD) && (flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_CHECKPOINT_FLAGS],
				    "hold ends a freeze early, and a pre-copy reads a running task: not with pre-copy");
		return -EINVAL;
	}
	err = ckpt_dirty_parse(s, info);
	if (err)
		return err;
	/*
	 * A pre-copy reads memory only, which a running task may change; with
	 * await-go the requester stops the task before its go.
	 */
	if (!(flags & (CKPT_CHECKPOINT_FLAGS_PRE_COPY | CKPT_CHECKPOINT_FLAGS_STOP |
		       CKPT_CHECKPOINT_FLAGS_AWAIT_GO)) && !ckpt_task_stopped(task)) {
		NL_SET_ERR_MSG_ATTR(info->extack, pid_attr,
				    "the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)");
		return -EBUSY;
	}
	return 0;
}

/* await-go's flags: what it comes with and what not. */
static int ckpt_await_go_admit(struct genl_info *info, u32 flags)
{
	struct nlattr *attr = info->attrs[CKPT_A_CHECKPOINT_FLAGS];

	if (!(flags & CKPT_CHECKPOINT_FLAGS_AWAIT_GO))
		return 0;
	if (!(flags & CKPT_CHECKPOINT_FLAGS_HOLD)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "await-go waits with the reserve of hold: set hold too");
		return -EINVAL;
	}
	if (flags & CKPT_CHECKPOINT_FLAGS_STOP) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "with await-go the requester stops the task before its go: not with stop");
		return -EINVAL;
	}
	if (flags & (CKPT_CHECKPOINT_FLAGS_PRE_COPY | CKPT_CHECKPOINT_FLAGS_ZOMBIE)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "await-go is for a live task its requester stops: not with pre-copy or zombie");
		return -EINVAL;
	}
	if (info->attrs[CKPT_A_PARENT_CRID] || info->attrs[CKPT_A_DIRTY_RANGES]) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "the written ranges are known only once the task is stopped: not with await-go");
		return -EINVAL;
	}
	return 0;
}

/* Everything about the target and the sink that admission must check. */
static int ckpt_stream_admit(struct ckpt_stream *s, struct sk_buff *skb,
			     struct genl_info *info, u32 flags)
{
	struct nlattr *pid_attr = info->attrs[CKPT_A_PID];
	struct task_struct *task = s->task;
	struct pid *claim;
	int err;

	/* Permission first (checked again with the sink's under the lock). */
	err = ckpt_may_access(skb, task, info->extack);
	if (err)
		return err;
	err = ckpt_await_go_admit(info, flags);
	if (err)
		return err;
	err = ckpt_sink_get(s->net, &s->sink, info->extack);
	if (err)
		return err;
	if (task_tgid(task) == s->sink.tgid) {
		NL_SET_ERR_MSG_ATTR(info->extack, pid_attr,
				    "the target is the capture sink's own process: its stream could never drain");
		return -EDEADLK;
	}
	if (s->zombie)
		err = ckpt_zombie_admit(s, info, flags);
	else
		err = ckpt_live_admit(s, skb, info, flags);
	if (err)
		return err;
	err = ckpt_stream_slot(s, info->extack);
	if (err)
		return err;
	claim = ckpt_claim(task);
	if (IS_ERR(claim)) {
		NL_SET_ERR_MSG_ATTR(info->extack, pid_attr,
				    "the task is already in a checkpoint or restart");
		return PTR_ERR(claim);
	}
	s->claim = claim;
	return 0;
}

/*
 * CKPT_CMD_CHECKPOINT after the target was resolved (@task, referenced:
 * the stream takes it over on success and on failure). Replies with the
 * crid and queues the work; returns without waiting for anything but the
 * target's exec_update_lock.
 */
int ckpt_stream_start(struct sk_buff *skb, struct genl_info *info,
		      struct task_struct *task, u32 flags, u32 timeout_ms)
{
	struct ckpt_stream *s;
	int err;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s) {
		put_task_struct(task);
		NL_SET_ERR_MSG(info->extack, "no memory for the stream");
		return -ENOMEM;
	}
	INIT_LIST_HEAD(&s->node);
	INIT_WORK(&s->work, ckpt_stream_work);
	INIT_WORK(&s->drain, ckpt_drain_work);
	skb_queue_head_init(&s->held);
	INIT_LIST_HEAD(&s->reserve);
	INIT_WORK(&s->reserve_work, ckpt_reserve_work);
	INIT_LIST_HEAD(&s->reserve_helper);
	spin_lock_init(&s->abort_lock);
	init_waitqueue_head(&s->go_wait);
	s->task = task;
	s->net = get_net(genl_info_net(info));
	s->cred = get_current_cred();
	s->uid = current_uid();
	s->admin = ckpt_host_admin();
	s->pid_ns = get_pid_ns(task_active_pid_ns(current));
	s->req_sk = NETLINK_CB(skb).sk;
	sock_hold(s->req_sk);
	s->req_seq = info->snd_seq;
	/* The requester's (we run in its sendmsg()): the stream's memory is charged there. */
	s->memcg = get_mem_cgroup_from_mm(current->mm);
	s->stop = flags & CKPT_CHECKPOINT_FLAGS_STOP;
	/* ckpt_get_target() let a zombie through only for this flag. */
	s->zombie = (flags & CKPT_CHECKPOINT_FLAGS_ZOMBIE) && ckpt_task_zombie(task);
	s->flags = flags;
	s->await_go = flags & CKPT_CHECKPOINT_FLAGS_AWAIT_GO;	/* admission checks the rest */
	s->crc = ~0U;

	err = ckpt_stream_admit(s, skb, info, flags);
	if (err)
		goto out_free;
	s->path = kmalloc(PATH_MAX, GFP_KERNEL_ACCOUNT);
	s->pages = kvmalloc_array(CKPT_PAGES_RUN_MAX, sizeof(*s->pages),
				  GFP_KERNEL_ACCOUNT);
	if (!s->path || !s->pages || ckpt_ring_alloc(s)) {
		NL_SET_ERR_MSG(info->extack, "no memory for the stream");
		err = -ENOMEM;
		goto out_free;
	}
	if (!timeout_ms)
		timeout_ms = READ_ONCE(ckpt_timeout_ms);
	s->deadline = jiffies + msecs_to_jiffies(timeout_ms);
	/* Read by ckpt_stream_go() under ckpt_streams_lock; 0 (not yet) matches no go. */
	WRITE_ONCE(s->crid, ckpt_next_crid());
	err = ckpt_stream_reply(info, s->crid);
	if (err)
		goto out_free;
	/* Stopped by us only now that nothing can fail before the work runs. */
	s->stop = s->stop && !s->zombie && !ckpt_task_stopped(task);
	/*
	 * Holding shortens a freeze: ours (stop), or the requester's, which
	 * checkpoint-read tells when to end (the task was stopped already, or
	 * will be before the go: admission refused it otherwise).
	 * hold_total_mib 0 turns it off.
	 */
	s->holding = !s->zombie && (flags & CKPT_CHECKPOINT_FLAGS_HOLD) &&
		     READ_ONCE(ckpt_hold_total_mib);
	if (s->stop && !s->holding) {
		s->stopped_at = ktime_get_ns();
		send_sig(SIGSTOP, task, 1);
	}
	queue_work(s->holding && ns_capable_noaudit(&init_user_ns, CAP_SYS_NICE) ?
		   ckpt_hold_wq : ckpt_wq, &s->work);
	return 0;

out_free:
	s->crid = 0;
	ckpt_stream_free(s);
	return err;
}

/*
 * CKPT_CMD_CHECKPOINT_GO: the go of an await-go stream. A stream is looked
 * for among those of the sending socket only (the socket that requested
 * it, held by the stream), so no other socket, whatever its privilege,
 * starts one or learns that it exists: ENOENT as for no stream at all. A
 * stream stays on ckpt_streams until it is freed, so one found under the
 * lock can be woken under it. Waits for nothing.
 */
int ckpt_stream_go(struct sk_buff *skb, u64 crid, struct netlink_ext_ack *extack)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	struct ckpt_stream *s;
	int err = -ENOENT;

	spin_lock(&ckpt_streams_lock);
	list_for_each_entry(s, &ckpt_streams, node) {
		if (!crid || READ_ONCE(s->crid) != crid || s->req_sk != sk)
			continue;
		if (!s->await_go) {
			err = -EINVAL;
		} else if (s->go) {
			err = -EALREADY;
		} else {
			/* Pairs with the acquire in ckpt_await_go(). */
			smp_store_release(&s->go, true);
			wake_up(&s->go_wait);
			err = 0;
		}
		break;
	}
	spin_unlock(&ckpt_streams_lock);
	if (err == -ENOENT)
		NL_SET_ERR_MSG(extack, "no checkpoint of this socket has that crid (ended, or never)");
	else if (err == -EINVAL)
		NL_SET_ERR_MSG(extack, "that checkpoint was not requested with await-go");
	else if (err == -EALREADY)
		NL_SET_ERR_MSG(extack, "that checkpoint had its go already");
	return err;
}

int ckpt_stream_init(void)
{
	ckpt_wq = alloc_workqueue("ckpt", WQ_UNBOUND, 0);
	if (!ckpt_wq)
		return -ENOMEM;
	ckpt_hold_wq = alloc_workqueue("ckpt_hold", WQ_UNBOUND | WQ_HIGHPRI, 0);
	ckpt_drain_wq = alloc_workqueue("ckpt_drain", WQ_UNBOUND, 0);
	if (!ckpt_hold_wq || !ckpt_drain_wq) {
		if (ckpt_hold_wq)
			destroy_workqueue(ckpt_hold_wq);
		if (ckpt_drain_wq)
			destroy_workqueue(ckpt_drain_wq);
		destroy_workqueue(ckpt_wq);
		return -ENOMEM;
	}
	return 0;
}

/* After ckpt_unloading is set: every stream aborts, and we wait for them. */
void ckpt_stream_exit(void)
{
	destroy_workqueue(ckpt_wq);
	destroy_workqueue(ckpt_hold_wq);	/* each stream waited for its drainer */
	destroy_workqueue(ckpt_drain_wq);
	WARN_ON_ONCE(!list_empty(&ckpt_streams));
}
