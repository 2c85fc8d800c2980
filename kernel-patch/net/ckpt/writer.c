// SPDX-License-Identifier: GPL-2.0
/*
 * A restart session's writer: the work item that writes validated page
 * data into the target, off the requests.
 *
 * Why not inside the request: genl_rcv() holds genl's cb_lock around every
 * doit, and writing into a target may wait without bound: for its
 * exec_update_lock or mmap lock, which another task can hold while it
 * waits itself, and in the page fault that breaks copy-on-write, which for
 * a private mapping of a FUSE file reads the file from a daemon that may
 * never answer. A doit stuck there stalls module loads and then every
 * genl family on the host. So requests only validate and queue:
 *
 *   restart-record (direct): checks -> copy into a stage -> queue -> ack
 *   restart-commit: counts, checksum, stopped -> reply (accepted) -> queue
 *   writer (ckpt_wq): batch = queue -> exec_update_lock, same image, access
 *     with the beginner's credentials -> (commit of a staged session:
 *     recheck every range) -> write each stage through the pinned mm ->
 *     restart-written (direct) | restart-done (commit or failure)
 *
 * The writer's lock waits are bounded (session_idle_ms, polled: it holds
 * a session slot and the target's claim). Its page faults read no file:
 * in a private file mapping it writes only pages that are already the
 * process's own (FOLL_NOFAULT; the restorer makes them so first, in its
 * own process, where a FUSE daemon that keeps a read holds only that
 * command), so no daemon can hold the writer, its session or rmmod
 * (ckpt_write_range()).
 *
 * A direct session queues at most CKPT_RESTART_QUEUE_MAX bytes, charged to
 * the requester: one that does not wait for restart-written fails its
 * session with ENOSPC rather than growing the queue. An idle session does not expire
 * while its writer works (ckpt_session_expire()).
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "ckpt-nl-gen.h"
#include "restart.h"

/* restart-done and restart-written: rsid, seq, error, two u64 and the reason. */
#define CKPT_WRITER_EVENT_MAX	(3 * nla_total_size(sizeof(u32)) +	\
				 2 * nla_total_size_64bit(sizeof(u64)) + \
				 nla_total_size(sizeof_field(struct ckpt_session, why)))

/* Under wlock: the work runs (again) and holds a session reference. */
static void ckpt_writer_kick(struct ckpt_session *sess)
{
	lockdep_assert_held(&sess->wlock);
	if (sess->writing)
		return;
	sess->writing = true;
	kref_get(&sess->ref);
	queue_work(ckpt_wq, &sess->write_work);
}

/* A request (under sess->lock) hands @st, filled, to the writer. */
void ckpt_writer_queue(struct ckpt_session *sess, struct ckpt_stage *st)
{
	spin_lock(&sess->wlock);
	list_add_tail(&st->node, &sess->queue);
	ckpt_writer_kick(sess);
	spin_unlock(&sess->wlock);
}

/* The accepted commit (under sess->lock): the staged data is the last batch. */
void ckpt_writer_commit(struct ckpt_session *sess, u32 nlseq)
{
	spin_lock(&sess->wlock);
	list_splice_tail_init(&sess->stages, &sess->queue);
	sess->stage = NULL;
	sess->committed = true;
	sess->commit_nlseq = nlseq;
	ckpt_writer_kick(sess);
	spin_unlock(&sess->wlock);
}

/* True if the writer owns the target state now and will drop it when it stops. */
bool ckpt_writer_defer_drop(struct ckpt_session *sess)
{
	bool busy;

	spin_lock(&sess->wlock);
	busy = sess->writing;
	if (busy)
		sess->drop_pending = true;
	spin_unlock(&sess->wlock);
	return busy;
}

/* The session ended or failed, or the module unloads: stop between stages. */
static bool ckpt_writer_stopped(struct ckpt_session *sess)
{
	return READ_ONCE(sess->dead) || READ_ONCE(sess->drop_pending) ||
	       READ_ONCE(ckpt_unloading);
}

/*
 * Queues an event on the session's socket. With @wait it waits for room
 * (polled, until @until): the requester waits for this one. Without, a full
 * receive buffer leaves it out (a later event says more).
 */
static void ckpt_writer_event(struct ckpt_session *sess, u8 cmd, u32 nlseq,
			      u32 seq, int err, bool wait, unsigned long until)
{
	struct sock *sk = sess->sk;
	struct sk_buff *skb;
	void *hdr;
	int bad;

	while (atomic_read(&sk->sk_rmem_alloc) > READ_ONCE(sk->sk_rcvbuf)) {
		if (!wait || sock_flag(sk, SOCK_DEAD) || READ_ONCE(ckpt_unloading) ||
		    time_after(jiffies, until))
			return;
		usleep_range(500, 1000);
	}
	if (sock_flag(sk, SOCK_DEAD))
		return;
	skb = genlmsg_new(CKPT_WRITER_EVENT_MAX, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, nlseq, &ckpt_nl_family, 0, cmd);
	bad = !hdr || nla_put_u32(skb, CKPT_A_RSID, sess->rsid);
	if (!bad && cmd == CKPT_CMD_RESTART_WRITTEN)
		bad = nla_put_u32(skb, CKPT_A_SEQ, seq) ||
		      nla_put_u64_64bit(skb, CKPT_A_BYTES, sess->written, CKPT_A_PAD);
	else if (!bad && err)
		bad = nla_put_u32(skb, CKPT_A_ERROR, -err) ||
		      nla_put_string(skb, CKPT_A_MESSAGE, sess->why);
	else if (!bad)
		bad = nla_put_u64_64bit(skb, CKPT_A_RECORDS, sess->records, CKPT_A_PAD) ||
		      nla_put_u64_64bit(skb, CKPT_A_BYTES, sess->bytes, CKPT_A_PAD);
	if (WARN_ON_ONCE(bad)) {	/* CKPT_WRITER_EVENT_MAX covers these */
		kfree_skb(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	ckpt_sock_queue(sk, skb);
}

/*
 * Takes the target's exec_update_lock and an mm_users reference after
 * checking that the task still runs the image whose mm was pinned at begin
 * and that the session's beginner may still access it (its credentials as
 * they were then: a target that changed hands since is refused).
 */
static int ckpt_writer_target_get(struct ckpt_session *sess, unsigned long until)
{
	struct task_struct *task = sess->task;
	const char *why = NULL;
	int err;

	err = ckpt_exec_lock(task, until);
	if (err) {
		why = "the target's exec_update_lock stayed taken for session_idle_ms";
	} else if (ckpt_task_exiting(task)) {
		why = "the target exited";
		err = -ESRCH;
	} else if (!ckpt_same_image(task, sess->mm, sess->exec_id)) {
		why = "the target called execve() since the session began: its memory is another program's";
		err = -EACCES;
	} else if (!mmget_not_zero(sess->mm)) {
		why = "the target exited";
		err = -ESRCH;
	} else {
		err = ckpt_creds_may_access(sess->cred, sess->opener, task);
		if (err) {
			why = "the session's requester may no longer access the target";
			mmput(sess->mm);
		}
	}
	if (err) {
		if (err != -EBUSY)
			up_read(&task->signal->exec_update_lock);
		strscpy(sess->why, why, sizeof(sess->why));
	}
	return err;
}

static void ckpt_writer_target_put(struct ckpt_session *sess)
{
	mmput(sess->mm);
	up_read(&sess->task->signal->exec_update_lock);
}

/* Writes @batch (stages, in order); the last batch when @commit. */
static int ckpt_writer_batch(struct ckpt_session *sess, struct list_head *batch,
			     bool commit, u32 *written_seq)
{
	unsigned long until = jiffies +
		msecs_to_jiffies(READ_ONCE(ckpt_session_idle_ms));
	bool staged = !(sess->flags & CKPT_RESTART_FLAGS_DIRECT);
	const char *why = NULL;
	struct ckpt_stage *st;
	int err;

	err = ckpt_writer_target_get(sess, until);
	if (err)
		return err;
	if (commit && staged) {
		err = ckpt_recheck_stages(sess, batch, until);
		if (err)
			strscpy(sess->why, err == -EBUSY ? CKPT_MMAP_BUSY :
				"staged pages no longer lie in a mapping a restart writes",
				sizeof(sess->why));
	}
	if (sess->flags & CKPT_RESTART_FLAGS_VALIDATE_ONLY)
		goto out;
	list_for_each_entry(st, batch, node) {
		if (err)
			break;
		if (!commit && ckpt_writer_stopped(sess)) {
			strscpy(sess->why, "the session ended", sizeof(sess->why));
			err = -ECANCELED;
			break;
		}
		err = ckpt_write_range(sess->mm, st->addr, st->data, st->len,
				       sess->pages, until, &why);
		if (err) {
			if (err == -EBUSY)
				why = "the target's memory map stayed locked";
			snprintf(sess->why, sizeof(sess->why),
				 "writing pages at %lx failed%s%s%s", st->addr,
				 why ? ": " : "", why ?: "",
				 staged ? " after earlier pages were written" : "");
			break;
		}
		sess->written += st->len;
		*written_seq = st->seq;
	}
out:
	ckpt_writer_target_put(sess);
	return err;
}

/* The writer failed: the session fails as a rejected request fails it. */
static void ckpt_writer_fail(struct ckpt_session *sess)
{
	mutex_lock(&sess->lock);
	if (!sess->failed) {
		sess->failed = sess->why;
		atomic64_inc(&ckpt_stats.restart_rejects);
	}
	mutex_unlock(&sess->lock);
	ckpt_writer_defer_drop(sess);	/* dropped below, as the writer stops */
}

static void ckpt_writer_work(struct work_struct *work)
{
	struct ckpt_session *sess = container_of(work, struct ckpt_session,
						 write_work);
	unsigned long until;
	bool commit, more, drop;
	LIST_HEAD(batch);
	u32 written_seq = 0, nlseq = 0;
	int err = 0;

	for (;;) {
		spin_lock(&sess->wlock);
		commit = sess->committed;
		nlseq = sess->commit_nlseq;
		list_splice_tail_init(&sess->queue, &batch);
		/* writing is cleared in this same hold: a stage queued after is kicked. */
		if (ckpt_writer_stopped(sess) || (list_empty(&batch) && !commit))
			break;
		spin_unlock(&sess->wlock);

		err = ckpt_writer_batch(sess, &batch, commit, &written_seq);
		until = jiffies + msecs_to_jiffies(READ_ONCE(ckpt_session_idle_ms));
		if (err) {
			ckpt_writer_fail(sess);
			ckpt_writer_event(sess, CKPT_CMD_RESTART_DONE, commit ? nlseq : 0,
					  0, err, true, until);
		} else if (commit) {
			atomic64_inc(&ckpt_stats.restarts);
			ckpt_session_end(sess);
			ckpt_writer_event(sess, CKPT_CMD_RESTART_DONE, nlseq, 0, 0,
					  true, until);
		}
		spin_lock(&sess->wlock);
		if (err || commit)
			break;
		more = !list_empty(&sess->queue);
		spin_unlock(&sess->wlock);
		ckpt_stages_free(sess, &batch);
		ckpt_writer_event(sess, CKPT_CMD_RESTART_WRITTEN, 0, written_seq, 0,
				  !more, until);
		cond_resched();
	}
	sess->writing = false;
	drop = sess->drop_pending;
	sess->drop_pending = false;
	spin_unlock(&sess->wlock);

	ckpt_stages_free(sess, &batch);
	if (drop)
		ckpt_session_drop_target(sess);
	ckpt_session_put(sess);
}

void ckpt_writer_init(struct ckpt_session *sess)
{
	INIT_WORK(&sess->write_work, ckpt_writer_work);
	spin_lock_init(&sess->wlock);
	INIT_LIST_HEAD(&sess->queue);
}
