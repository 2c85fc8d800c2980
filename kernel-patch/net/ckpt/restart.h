/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: a restart session, shared by the requests that fill it (restart.c)
 * and the writer that writes it into the target (writer.c).
 */
#ifndef _CKPT_RESTART_H
#define _CKPT_RESTART_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "internal.h"

/*
 * Page data for the target: one pages record's, filled fragment by
 * fragment and written at commit; or, in a direct session, one fragment's,
 * queued for the writer as it arrives.
 */
struct ckpt_stage {
	struct list_head node;
	unsigned long addr;
	size_t len;
	u8 *data;		/* len bytes, allocated apart (ckpt_stage_new()) */
	u32 seq;		/* the session seq of the request that completed it */
};

struct ckpt_open {
	u32 id;
	u32 type;
};

struct ckpt_session {
	struct list_head node;		/* in ckpt_sessions, under its lock */
	struct kref ref;
	struct mutex lock;		/* serializes this session's requests */
	possible_net_t net;
	u32 portid;
	u32 rsid;
	u32 flags;
	bool dead;			/* removed from the list */
	const char *failed;		/* why the session failed, or NULL */
	struct task_struct *task;	/* claimed while not failed */
	struct pid *claim;
	struct mm_struct *mm;		/* mmgrab()bed where access was checked */
	u64 exec_id;			/* task->self_exec_id at that moment */
	kuid_t uid;			/* the requester's, for the per-uid caps */
	bool admin;			/* the requester is the host's (ckpt_host_admin()) */
	struct delayed_work expire;	/* ends the session when idle */
	struct sock *sk;		/* the socket that began it, held: the writer's events */
	const struct cred *cred;	/* the beginner's: the writer checks access with them */
	const struct cred *opener;	/* the socket opener's, likewise */

	/* Stream state, as a checkpoint sink would check it. */
	u32 seq;
	u32 last_id;
	struct ckpt_open open[CKPT_DEPTH_MAX];
	unsigned int depth;
	struct ckpt_rec cur;		/* record whose fragments are arriving */
	bool in_record;
	bool seen_task;
	bool seen_sigactions;
	bool seen_rlimits;
	u32 siginfo_of;			/* the record the last siginfo record hangs under */
	bool seen_trailer;
	u64 records;
	u64 bytes;
	u32 crc;

	/* What the trailer must count, and the open vma. */
	u32 nr_threads;
	u32 nr_vmas;
	u64 nr_pages;
	u32 nr_files;
	unsigned long vma_start;
	unsigned long vma_end;
	unsigned long pages_next;	/* pages records ascend within a vma */
	bool vma_dumped;
	bool vma_shmem;		/* the target's vma is unnamed shared memory */

	struct list_head stages;	/* staged until the commit, under lock */
	struct ckpt_stage *stage;	/* of the current pages record */
	atomic64_t staged;		/* bytes in stages, for the caps */
	atomic64_t queued;		/* direct: bytes queued, at most CKPT_RESTART_QUEUE_MAX */
	u64 run_addr;			/* of the current pages record */

	/*
	 * The writer (writer.c): a work item on ckpt_wq that writes the
	 * queue into the target, so that no request waits on the target's
	 * locks or on a page fault. While
	 * it is queued or running (writing) it owns task, mm, claim, queue
	 * and pages: ckpt_session_drop_state() leaves them to it
	 * (drop_pending) and it drops them when it stops.
	 */
	struct work_struct write_work;
	spinlock_t wlock;		/* queue and the flags below */
	struct list_head queue;		/* stages to write, in order */
	bool writing;
	bool drop_pending;
	bool committed;			/* the commit is queued: the last batch */
	u32 commit_nlseq;		/* its nlmsg_seq, for restart-done */
	struct page **pages;		/* the writer's GUP scratch */
	u64 written;			/* page bytes written, the writer's */
	char why[128];			/* the writer's failure, for the requester */
};

/* restart.c */
void ckpt_session_put(struct ckpt_session *sess);
void ckpt_session_end(struct ckpt_session *sess);
void ckpt_session_drop_target(struct ckpt_session *sess);
void ckpt_stage_free(struct ckpt_session *sess, struct ckpt_stage *st);
void ckpt_stages_free(struct ckpt_session *sess, struct list_head *stages);
int ckpt_write_range(struct mm_struct *mm, unsigned long addr, const u8 *src,
		     size_t len, struct page **pages, unsigned long until,
		     const char **why);
int ckpt_recheck_stages(struct ckpt_session *sess, struct list_head *stages,
			unsigned long until);

/* writer.c */
void ckpt_writer_init(struct ckpt_session *sess);
void ckpt_writer_queue(struct ckpt_session *sess, struct ckpt_stage *st);
void ckpt_writer_commit(struct ckpt_session *sess, u32 nlseq);
bool ckpt_writer_defer_drop(struct ckpt_session *sess);

#endif /* _CKPT_RESTART_H */
