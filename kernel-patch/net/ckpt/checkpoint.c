// SPDX-License-Identifier: GPL-2.0
/*
 * Record producers: read a task and emit its records in stream order
 *
 *   header, task { regs { xstate }..., sigactions, mm { vma { pages... }... },
 *                  file { pipe | unix | inet | fdinfo }... }, trailer
 *
 * (a vma of unnamed shared memory: vma { shmem, pages... }; with a parent,
 * a vma's clean runs as parent-pages among its pages, precopy.c; a
 * pre-copy, of a running task: header, task { mm {...} }, trailer)
 *
 * Producers run on ckpt_wq (stream.c), never in a genl request.
 *
 * Rule for every producer: fill one message while holding what the reading
 * needs (the mmap lock, RCU, a file reference), drop it, then send. Sending
 * may sleep for as long as the sink takes to drain; nothing of the target
 * is locked meanwhile. Page contents are held by page references between
 * reading and sending, never copied into a second kernel buffer.
 *
 * What is read from the live task (credentials, registers, descriptors)
 * is read under its exec_update_lock after ckpt_image_lock() checked that
 * the task still runs the image whose mm was pinned when access was
 * checked; after an exec the stream aborts (CKPT_ABORT_REASON_EXEC) before
 * reading anything of the new image. Memory is read through the pinned mm
 * only, never through task->mm. Ids are translated into the requester's
 * namespaces (s->pid_ns, s->cred), not the worker's.
 */
#include <linux/cred.h>
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pid_namespace.h>
#include <linux/pipe_fs_i.h>
#include <linux/regset.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/random.h>
#include <linux/shmem_fs.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <asm/fpu/xcr.h>
#include <asm/user.h>
#include <net/tcp_states.h>

#include "internal.h"

/*
 * Holds @s->task's exec_update_lock for reading if it still runs the
 * pinned image; otherwise aborts the stream with CKPT_ABORT_REASON_EXEC.
 */
static int ckpt_image_lock(struct ckpt_stream *s)
{
	int err = ckpt_exec_lock(s->task, s->deadline);

	if (err)
		return err;
	if (ckpt_same_image(s->task, s->mm, s->exec_id))
		return 0;
	up_read(&s->task->signal->exec_update_lock);
	ckpt_set_abort(s, CKPT_ABORT_REASON_EXEC, -EACCES,
		       "the task called execve() during the checkpoint");
	return -EACCES;
}

static void ckpt_image_unlock(struct ckpt_stream *s)
{
	up_read(&s->task->signal->exec_update_lock);
}

struct ckpt_counts {
	u32 threads;
	u32 vmas;
	u64 pages;
	u32 files;
};

static int ckpt_put_u64(struct ckpt_stream *s, int type, u64 v)
{
	return nla_put_u64_64bit(s->skb, type, v, CKPT_A_META_PAD);
}

/* What identifies a file for a restore: inode, device, size, mtime. */
/*
 * Open files' ids (meta file-id): a keyed hash of the struct file, so that
 * records of two images taken in this module's lifetime say when their fds
 * are one open file (inherited across fork: one offset), without giving the
 * kernel's address away. kcmp(KCMP_FILE) compares obfuscated pointers the
 * same way.
 */
static siphash_key_t ckpt_file_key __ro_after_init;

void __init ckpt_file_id_init(void)
{
	get_random_bytes(&ckpt_file_key, sizeof(ckpt_file_key));
}

static u64 ckpt_file_id(struct file *file)
{
	return siphash_1u64((u64)(unsigned long)file, &ckpt_file_key);
}

static int ckpt_put_identity(struct ckpt_stream *s, struct file *file)
{
	struct inode *inode = file_inode(file);

	return ckpt_put_u64(s, CKPT_A_META_INO, inode->i_ino) ||
	       nla_put_u32(s->skb, CKPT_A_META_DEV, new_encode_dev(inode->i_sb->s_dev)) ||
	       ckpt_put_u64(s, CKPT_A_META_SIZE, i_size_read(inode)) ||
	       ckpt_put_u64(s, CKPT_A_META_MTIME_NS, ckpt_inode_mtime_ns(inode));
}

/*
 * A record with meta only: emit_meta() puts the fields, under
 * ckpt_image_lock() when they come from the @live task.
 */
static int ckpt_emit_simple(struct ckpt_stream *s, struct ckpt_rec *rec,
			    int (*emit_meta)(struct ckpt_stream *s, void *arg),
			    void *arg, bool live)
{
	int err = live ? ckpt_image_lock(s) : 0;

	if (err)
		return err;
	err = ckpt_frag_begin(s, rec, 0);
	if (!err && WARN_ON_ONCE(emit_meta(s, arg))) {
		/* The message is sized for the largest meta: a bug. */
		kfree_skb(s->skb);
		s->skb = NULL;
		err = -EMSGSIZE;
	}
	if (live)
		ckpt_image_unlock(s);
	if (err)
		return err;
	ckpt_meta_end(s);
	return ckpt_frag_send(s);
}

static int ckpt_header_meta(struct ckpt_stream *s, void *arg)
{
	struct new_utsname *uts = init_utsname();

	return nla_put_string(s->skb, CKPT_A_META_ARCH, uts->machine) ||
	       nla_put_u32(s->skb, CKPT_A_META_PAGE_SIZE, PAGE_SIZE) ||
	       nla_put_string(s->skb, CKPT_A_META_RELEASE, uts->release) ||
	       ckpt_put_u64(s, CKPT_A_META_TIME_NS, ktime_get_real_ns()) ||
	       (s->parent_crid &&
		ckpt_put_u64(s, CKPT_A_META_PARENT_CRID, s->parent_crid)) ||
	       (s->flags &&
		nla_put_u32(s->skb, CKPT_A_META_CHECKPOINT_FLAGS, s->flags));
}

/*
 * The working and the root directory, as d_path prints them from the worker
 * (relative to init's root, like the paths of vma and file records), and
 * the umask. None for a task without fs (exiting).
 */
static int ckpt_fs_meta(struct ckpt_stream *s, struct task_struct *task)
{
	struct path pwd, root;
	unsigned int umask;
	char *path;
	int err;

	task_lock(task);
	if (!task->fs) {
		task_unlock(task);
		return 0;
	}
	get_fs_pwd(task->fs, &pwd);
	get_fs_root(task->fs, &root);
	umask = task->fs->umask;
	task_unlock(task);
	path = d_path(&pwd, s->path, PATH_MAX);
	err = (!IS_ERR(path) && nla_put_string(s->skb, CKPT_A_META_CWD, path)) ||
	      nla_put_u32(s->skb, CKPT_A_META_UMASK, umask);
	path = d_path(&root, s->path, PATH_MAX);
	err = err || (!IS_ERR(path) && nla_put_string(s->skb, CKPT_A_META_ROOT, path));
	path_put(&root);
	path_put(&pwd);
	return err;
}

/*
 * A zombie's status as its parent's wait(2) will read it: wait_task_zombie()
 * takes the group's exit code when the group exit was collective.
 */
static u32 ckpt_exit_status(struct task_struct *task)
{
	struct signal_struct *sig = task->signal;

	return (READ_ONCE(sig->flags) & SIGNAL_GROUP_EXIT) ?
	       READ_ONCE(sig->group_exit_code) : READ_ONCE(task->exit_code);
}

/*
 * Ids as the requester sees them: its pid and user namespaces. The process
 * group and session let a restore of a process tree put each process back
 * in its group and session (0: a leader the requester cannot see).
 */
static int ckpt_task_meta(struct ckpt_stream *s, void *arg)
{
	struct task_struct *task = arg;
	struct user_namespace *ns = s->cred->user_ns;
	char comm[TASK_COMM_LEN];
	const struct cred *cred;
	pid_t ppid, pgid, sid;
	int err;

	rcu_read_lock();
	ppid = task_tgid_nr_ns(rcu_dereference(task->real_parent), s->pid_ns);
	pgid = task_pgrp_nr_ns(task, s->pid_ns);
	sid = task_session_nr_ns(task, s->pid_ns);
	rcu_read_unlock();
	get_task_comm(comm, task);
	cred = get_task_cred(task);
	err = nla_put_u32(s->skb, CKPT_A_META_PID, task_pid_nr_ns(task, s->pid_ns)) ||
	      nla_put_u32(s->skb, CKPT_A_META_TGID, task_tgid_nr_ns(task, s->pid_ns)) ||
	      nla_put_u32(s->skb, CKPT_A_META_PPID, ppid) ||
	      nla_put_string(s->skb, CKPT_A_META_COMM, comm) ||
	      nla_put_u32(s->skb, CKPT_A_META_UID, from_kuid_munged(ns, cred->uid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_GID, from_kgid_munged(ns, cred->gid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_EUID, from_kuid_munged(ns, cred->euid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_EGID, from_kgid_munged(ns, cred->egid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_PERSONALITY, READ_ONCE(task->personality)) ||
	      nla_put_u32(s->skb, CKPT_A_META_PGID, pgid) ||
	      nla_put_u32(s->skb, CKPT_A_META_SID, sid) ||
	      (s->zombie && nla_put_u32(s->skb, CKPT_A_META_EXIT_STATUS, ckpt_exit_status(task)));
	put_cred(cred);
	return err ?: ckpt_fs_meta(s, task);
}

/* The @n-th thread of @task's group, with a reference, or NULL. */
static struct task_struct *ckpt_nth_thread(struct task_struct *task,
					   unsigned int n)
{
	struct task_struct *t, *found = NULL;

	rcu_read_lock();
	for_each_thread(task, t) {
		if (!n--) {
			found = t;
			get_task_struct(found);
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

struct ckpt_regs_read {
	const struct user_regset *rs;
	void *buf;
	u32 len;
};

/* Under ckpt_with_task_stack(): @t's pt_regs and fpstate cannot be freed meanwhile. */
static int ckpt_regset_fn(struct task_struct *t, void *arg)
{
	struct ckpt_regs_read *r = arg;
	int n = regset_get(t, r->rs, r->len, r->buf);

	return n < 0 ? n : n == r->len ? 0 : -EFAULT;
}

/* The x86-64 regset with ELF note type @note, or NULL. */
static const struct user_regset *ckpt_regset(struct task_struct *t,
					     unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	if (view->e_machine != EM_X86_64)
		return NULL;
	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

/* What a thread's regs record carries besides its registers. */
struct ckpt_thread_state {
	u64 blocked;
	u64 pending;
	u64 rseq;
	u64 robust_list;
	u64 clear_child_tid;
	u64 altstack_sp;
	u64 altstack_size;
	u32 altstack_flags;
	u32 rseq_len;
	u32 rseq_sig;
};

/*
 * Under ckpt_with_task_stack(), which keeps @t from passing exit_mm() and
 * so from freeing its sighand (exec cannot replace it either: the caller
 * holds exec_update_lock). Reads the signals @t blocks as PTRACE_GETSIGMASK
 * reports them (the mask to restore when @t sits in sigsuspend() or ppoll()
 * with a temporary one), the signals pending for @t alone, and the user
 * pointers the kernel keeps for @t: rseq registration, robust list,
 * clear-child-tid, alternate signal stack. @t is stopped, so the pointers
 * do not change under us (signals may still arrive: siglock).
 */
static struct sighand_struct *ckpt_sighand(struct task_struct *t)
{
	return rcu_dereference_protected(t->sighand,
			lockdep_is_held(&t->signal->exec_update_lock));
}

static int ckpt_thread_state_fn(struct task_struct *t, void *arg)
{
	struct sighand_struct *sighand = ckpt_sighand(t);
	struct ckpt_thread_state *ts = arg;

	BUILD_BUG_ON(_NSIG_WORDS != 1);
	spin_lock_irq(&sighand->siglock);
	ts->blocked = test_tsk_restore_sigmask(t) ? t->saved_sigmask.sig[0] :
						    t->blocked.sig[0];
	ts->pending = t->pending.signal.sig[0];
	spin_unlock_irq(&sighand->siglock);
	ts->altstack_sp = t->sas_ss_sp;
	ts->altstack_size = t->sas_ss_size;
	ts->altstack_flags = t->sas_ss_flags;
#ifdef CONFIG_RSEQ
	ts->rseq = (unsigned long)t->rseq;
	ts->rseq_len = ckpt_rseq_len(t);
	ts->rseq_sig = t->rseq_sig;
#endif
#ifdef CONFIG_FUTEX
	ts->robust_list = (unsigned long)t->robust_list;
#endif
	ts->clear_child_tid = (unsigned long)t->clear_child_tid;
	return 0;
}

/* Likewise: the signals pending for the whole group into @arg (a u64). */
static int ckpt_shared_pending_fn(struct task_struct *t, void *arg)
{
	struct sighand_struct *sighand = ckpt_sighand(t);

	spin_lock_irq(&sighand->siglock);
	*(u64 *)arg = t->signal->shared_pending.signal.sig[0];
	spin_unlock_irq(&sighand->siglock);
	return 0;
}

/* Likewise: every signal's disposition into @arg, _NSIG entries. */
static int ckpt_sigactions_fn(struct task_struct *t, void *arg)
{
	struct sighand_struct *sighand = ckpt_sighand(t);
	__le64 *out = arg;
	int i;

	spin_lock_irq(&sighand->siglock);
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		*out++ = cpu_to_le64((unsigned long)sa->sa_handler);
		*out++ = cpu_to_le64(sa->sa_flags);
		*out++ = cpu_to_le64((unsigned long)sa->sa_restorer);
		*out++ = cpu_to_le64(sa->sa_mask.sig[0]);
	}
	spin_unlock_irq(&sighand->siglock);
	return 0;
}

/*
 * The xstate record of thread @t, child of its regs record @parent: the
 * XSAVE area as ptrace's NT_X86_XSTATE regset reads it, with XCR0 (the
 * features its layout covers) as meta. None on a CPU without XSAVE.
 */
static int ckpt_emit_xstate(struct ckpt_stream *s, struct task_struct *t,
			    u32 parent)
{
	struct ckpt_regs_read r = { .rs = ckpt_regset(t, NT_X86_XSTATE) };
	struct ckpt_rec rec;
	int err;

	if (!r.rs || !cpu_feature_enabled(X86_FEATURE_OSXSAVE))
		return 0;
	r.len = r.rs->n * r.rs->size;
	if (!r.len)
		return 0;
	if (WARN_ON_ONCE(r.len > CKPT_XSTATE_MAX || r.len > CKPT_FRAG_DATA))
		return -EOPNOTSUPP;
	err = ckpt_image_lock(s);
	if (err)
		return err;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_XSTATE, parent, r.len);
	err = ckpt_frag_begin(s, &rec, r.len);
	if (err)
		goto out_unlock;
	if (WARN_ON_ONCE(ckpt_put_u64(s, CKPT_A_META_XFEATURES,
				      xgetbv(XCR_XFEATURE_ENABLED_MASK)))) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	ckpt_meta_end(s);
	r.buf = ckpt_frag_data(s, &rec, r.len);
	err = r.buf ? ckpt_with_task_stack(t, s->mm, s->deadline, ckpt_regset_fn, &r) :
		      -EMSGSIZE;
out_unlock:
	ckpt_image_unlock(s);
	return err ?: ckpt_frag_send(s);
}

/* A signal queue read under siglock: how many, and the first @max as siginfo_t. */
struct ckpt_siginfo_read {
	bool shared;		/* the process's queue, not the thread's */
	u32 max;
	u32 queued;
	siginfo_t *out;		/* NULL: count only */
};

/* Under ckpt_with_task_stack(), as ckpt_thread_state_fn(). */
static int ckpt_siginfo_fn(struct task_struct *t, void *arg)
{
	struct sighand_struct *sighand = ckpt_sighand(t);
	struct ckpt_siginfo_read *r = arg;
	struct sigpending *p;
	struct sigqueue *q;

	r->queued = 0;
	spin_lock_irq(&sighand->siglock);
	p = r->shared ? &t->signal->shared_pending : &t->pending;
	list_for_each_entry(q, &p->list, list) {
		if (r->out && r->queued < r->max)
			copy_siginfo_to_external(&r->out[r->queued], &q->info);
		r->queued++;
	}
	spin_unlock_irq(&sighand->siglock);
	return 0;
}

/*
 * The siginfo record of thread @t, child of its regs record @parent (or,
 * @shared, the shared-siginfo record of its process, child of the
 * sigactions record): the queued signals oldest first, at most
 * CKPT_SIGINFO_MAX of them, in a buffer allocated between a counting pass
 * and a copying pass (no allocation under siglock; the queue may change in
 * between: the second pass's count is what nr-queued says). None for an
 * empty queue.
 */
static int ckpt_emit_siginfo(struct ckpt_stream *s, struct task_struct *t,
			     u32 parent, bool shared)
{
	struct ckpt_siginfo_read r = { .shared = shared };
	struct ckpt_rec rec;
	u32 n, len;
	void *buf;
	int err;

	BUILD_BUG_ON(sizeof(siginfo_t) != CKPT_SIGINFO_SIZE ||
		     CKPT_SIGINFO_MAX * CKPT_SIGINFO_SIZE > CKPT_FRAG_DATA);
	err = ckpt_image_lock(s);
	if (err)
		return err;
	err = ckpt_with_task_stack(t, s->mm, s->deadline, ckpt_siginfo_fn, &r);
	ckpt_image_unlock(s);
	if (err || !r.queued)
		return err;
	r.max = min_t(u32, r.queued, CKPT_SIGINFO_MAX);
	r.out = kvcalloc(r.max, sizeof(siginfo_t), GFP_KERNEL_ACCOUNT);
	if (!r.out)
		return -ENOMEM;
	err = ckpt_image_lock(s);
	if (err)
		goto out_free;
	err = ckpt_with_task_stack(t, s->mm, s->deadline, ckpt_siginfo_fn, &r);
	ckpt_image_unlock(s);
	if (err || !r.queued)
		goto out_free;
	n = min(r.queued, r.max);
	len = n * CKPT_SIGINFO_SIZE;
	ckpt_rec_init(s, &rec, shared ? CKPT_RECORD_TYPE_SHARED_SIGINFO :
			      CKPT_RECORD_TYPE_SIGINFO, parent, len);
	err = ckpt_frag_begin(s, &rec, len);
	if (err)
		goto out_free;
	if (WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_NR_SIGINFO, n) ||
			 nla_put_u32(s->skb, CKPT_A_META_NR_QUEUED, r.queued))) {
		err = -EMSGSIZE;
		goto out_free;
	}
	ckpt_meta_end(s);
	buf = ckpt_frag_data(s, &rec, len);
	if (!buf) {
		err = -EMSGSIZE;
		goto out_free;
	}
	memcpy(buf, r.out, len);
	err = ckpt_frag_send(s);
out_free:
	kvfree(r.out);
	return err;
}

/* One thread's regs record: NT_PRSTATUS, and struct ckpt_thread_state as meta. */
static int ckpt_emit_thread_regs(struct ckpt_stream *s, struct task_struct *t,
				 struct ckpt_rec *rec, u32 parent)
{
	struct ckpt_regs_read r = { .len = sizeof(struct user_regs_struct) };
	struct ckpt_thread_state ts = {};
	int err;

	r.rs = ckpt_regset(t, NT_PRSTATUS);
	if (!r.rs)
		return -EOPNOTSUPP;
	if (WARN_ON_ONCE(r.rs->n * r.rs->size != r.len))
		return -EOPNOTSUPP;
	err = ckpt_image_lock(s);
	if (err)
		return err;
	/*
	 * A thread's credentials are its own (setresuid() as a raw system
	 * call changes one thread's): admission checked the leader's, so
	 * every other thread is checked, for the requester and the sink.
	 */
	if (t != s->task && (ckpt_cred_may_access(s->cred, t) ||
			     ckpt_cred_may_access(s->sink.cred, t))) {
		ckpt_set_abort(s, CKPT_ABORT_REASON_FAULT, -EACCES,
			       "a thread has other credentials than the leader, which the requester or the sink may not read");
		err = -EACCES;
		goto out_unlock;
	}
	err = ckpt_with_task_stack(t, s->mm, s->deadline, ckpt_thread_state_fn, &ts);
	if (err)
		goto out_unlock;
	ckpt_rec_init(s, rec, CKPT_RECORD_TYPE_REGS, parent, r.len);
	err = ckpt_frag_begin(s, rec, r.len);
	if (err)
		goto out_unlock;
	if (WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_TID,
				     task_pid_nr_ns(t, s->pid_ns)) ||
			 ckpt_put_u64(s, CKPT_A_META_SIGMASK, ts.blocked) ||
			 ckpt_put_u64(s, CKPT_A_META_RSEQ, ts.rseq) ||
			 nla_put_u32(s->skb, CKPT_A_META_RSEQ_LEN, ts.rseq_len) ||
			 nla_put_u32(s->skb, CKPT_A_META_RSEQ_SIG, ts.rseq_sig) ||
			 ckpt_put_u64(s, CKPT_A_META_ROBUST_LIST, ts.robust_list) ||
			 ckpt_put_u64(s, CKPT_A_META_CLEAR_CHILD_TID, ts.clear_child_tid) ||
			 ckpt_put_u64(s, CKPT_A_META_SIGPENDING, ts.pending) ||
			 ckpt_put_u64(s, CKPT_A_META_ALTSTACK_SP, ts.altstack_sp) ||
			 ckpt_put_u64(s, CKPT_A_META_ALTSTACK_SIZE, ts.altstack_size) ||
			 nla_put_u32(s->skb, CKPT_A_META_ALTSTACK_FLAGS, ts.altstack_flags))) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	ckpt_meta_end(s);
	r.buf = ckpt_frag_data(s, rec, r.len);
	err = r.buf ? ckpt_with_task_stack(t, s->mm, s->deadline, ckpt_regset_fn, &r) :
		      -EMSGSIZE;
out_unlock:
	ckpt_image_unlock(s);
	return err ?: ckpt_frag_send(s);
}

/* Per thread: a regs record, its xstate record and its queued signals. */
static int ckpt_emit_regs(struct ckpt_stream *s, struct task_struct *task,
			  u32 parent, struct ckpt_counts *c)
{
	struct task_struct *t;
	struct ckpt_rec rec;
	int err;

	while ((t = ckpt_nth_thread(task, c->threads))) {
		err = ckpt_emit_thread_regs(s, t, &rec, parent);
		if (!err)
			err = ckpt_emit_xstate(s, t, rec.id);
		if (!err)
			err = ckpt_emit_siginfo(s, t, rec.id, false);
		put_task_struct(t);
		if (err)
			return err;
		c->threads++;
	}
	return 0;
}

/*
 * The sigactions record: every signal's disposition, as rt_sigaction(2)
 * takes it back (CKPT_SIGACTION_SIZE bytes each, little endian).
 */
static int ckpt_emit_sigactions(struct ckpt_stream *s, struct task_struct *task,
				u32 parent)
{
	const u32 len = _NSIG * CKPT_SIGACTION_SIZE;
	struct ckpt_rec rec;
	u64 shared_pending;
	__le64 *out;
	int err;

	BUILD_BUG_ON(_NSIG_WORDS != 1 || CKPT_SIGACTION_SIZE != 4 * sizeof(u64) ||
		     _NSIG * CKPT_SIGACTION_SIZE > CKPT_FRAG_DATA);
	err = ckpt_image_lock(s);
	if (err)
		return err;
	err = ckpt_with_task_stack(task, s->mm, s->deadline, ckpt_shared_pending_fn,
				   &shared_pending);
	if (err)
		goto out_unlock;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_SIGACTIONS, parent, len);
	err = ckpt_frag_begin(s, &rec, len);
	if (err)
		goto out_unlock;
	if (WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_NR_SIGS, _NSIG) ||
			 ckpt_put_u64(s, CKPT_A_META_SHARED_PENDING, shared_pending))) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	ckpt_meta_end(s);
	out = ckpt_frag_data(s, &rec, len);
	err = out ? ckpt_with_task_stack(task, s->mm, s->deadline, ckpt_sigactions_fn, out) :
		    -EMSGSIZE;
out_unlock:
	ckpt_image_unlock(s);
	err = err ?: ckpt_frag_send(s);
	/* The process's queued signals, under the record of its signal state. */
	return err ?: ckpt_emit_siginfo(s, task, rec.id, true);
}

/*
 * The rlimits record: every resource limit as prlimit(2) takes it back
 * (CKPT_RLIMIT_SIZE bytes each: soft, hard; little endian). Read under the
 * group leader's task_lock(), as do_prlimit() writes them.
 */
static int ckpt_emit_rlimits(struct ckpt_stream *s, struct task_struct *task,
			     u32 parent)
{
	const u32 len = RLIM_NLIMITS * CKPT_RLIMIT_SIZE;
	struct rlimit rlim[RLIM_NLIMITS];
	struct ckpt_rec rec;
	__le64 *out;
	int err, i;

	BUILD_BUG_ON(CKPT_RLIMIT_SIZE != 2 * sizeof(u64) || len > CKPT_FRAG_DATA);
	err = ckpt_image_lock(s);
	if (err)
		return err;
	task_lock(task->group_leader);
	memcpy(rlim, task->signal->rlim, sizeof(rlim));
	task_unlock(task->group_leader);
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_RLIMITS, parent, len);
	err = ckpt_frag_begin(s, &rec, len);
	if (err)
		goto out_unlock;
	if (WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_NR_RLIMITS, RLIM_NLIMITS))) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	ckpt_meta_end(s);
	out = ckpt_frag_data(s, &rec, len);
	if (!out) {
		err = -EMSGSIZE;
		goto out_unlock;
	}
	for (i = 0; i < RLIM_NLIMITS; i++) {
		*out++ = cpu_to_le64(rlim[i].rlim_cur);
		*out++ = cpu_to_le64(rlim[i].rlim_max);
	}
out_unlock:
	ckpt_image_unlock(s);
	return err ?: ckpt_frag_send(s);
}

static int ckpt_mm_meta(struct ckpt_stream *s, void *arg)
{
	struct mm_struct *mm = arg;

	/* Read under the mmap lock by the caller, copied here. */
	return ckpt_put_u64(s, CKPT_A_META_START_CODE, mm->start_code) ||
	       ckpt_put_u64(s, CKPT_A_META_END_CODE, mm->end_code) ||
	       ckpt_put_u64(s, CKPT_A_META_START_DATA, mm->start_data) ||
	       ckpt_put_u64(s, CKPT_A_META_END_DATA, mm->end_data) ||
	       ckpt_put_u64(s, CKPT_A_META_START_BRK, mm->start_brk) ||
	       ckpt_put_u64(s, CKPT_A_META_BRK, mm->brk) ||
	       ckpt_put_u64(s, CKPT_A_META_START_STACK, mm->start_stack) ||
	       ckpt_put_u64(s, CKPT_A_META_ARG_START, mm->arg_start) ||
	       ckpt_put_u64(s, CKPT_A_META_ARG_END, mm->arg_end) ||
	       ckpt_put_u64(s, CKPT_A_META_ENV_START, mm->env_start) ||
	       ckpt_put_u64(s, CKPT_A_META_ENV_END, mm->env_end) ||
	       nla_put_u32(s->skb, CKPT_A_META_DUMPABLE, get_dumpable(mm));
}

/* A run of @nr present pages at @addr, held by s->pages[], fragmented. */
static int ckpt_emit_run(struct ckpt_stream *s, u32 parent, unsigned long addr,
			 unsigned int nr)
{
	struct ckpt_rec rec;
	unsigned int i = 0, n;
	int err;

	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_PAGES, parent,
		      (u64)nr << PAGE_SHIFT);
	while (i < nr) {
		n = min_t(unsigned int, nr - i, CKPT_FRAG_DATA >> PAGE_SHIFT);
		err = ckpt_frag_begin_paged(s, &rec, n << PAGE_SHIFT);
		if (err)
			return err;
		if (!i) {
			if (WARN_ON_ONCE(ckpt_put_u64(s, CKPT_A_META_ADDR, addr) ||
					 nla_put_u32(s->skb, CKPT_A_META_NR_PAGES, nr)))
				return -EMSGSIZE;
			ckpt_meta_end(s);
		}
		err = ckpt_frag_pages(s, &rec, s->pages + i, n);
		if (err)
			return err;
		i += n;
		err = ckpt_frag_send(s);
		if (err)
			return err;
	}
	return 0;
}

/* Whether @page holds only zeros: the scan ends at the first byte that is not. */
static bool ckpt_page_zero(struct page *page)
{
	void *p = kmap_local_page(page);
	bool zero = !memchr_inv(p, 0, PAGE_SIZE);

	kunmap_local(p);
	return zero;
}

/*
 * The run of @nr present pages at @addr in s->pages[] as data, its pages
 * of zeros left out when @skip_zero (ckpt_emit_vma(): an anonymous private
 * mapping): a page the image lacks reads as zero in the fresh mapping a
 * restore makes, `ckpt replay --pid` puts such a page of its twin back to
 * zero, and a restorer fills a parent-pages record's pages that a pre-copy
 * left out so with nothing. Each page is scanned once. Shifts s->pages[]
 * for each part: ckpt_emit_run() reads from its start. Counts the data
 * pages.
 */
static int ckpt_emit_data(struct ckpt_stream *s, u32 parent,
			  unsigned long addr, unsigned int nr, bool skip_zero,
			  struct ckpt_counts *c)
{
	struct page **pages = s->pages;
	unsigned int i, end;
	bool zero, next;
	int err = 0;

	if (!skip_zero) {
		c->pages += nr;
		return ckpt_emit_run(s, parent, addr, nr);
	}
	zero = ckpt_page_zero(pages[0]);
	for (i = 0; !err && i < nr; i = end, zero = next) {
		next = zero;
		for (end = i + 1; end < nr; end++) {
			next = ckpt_page_zero(pages[end]);
			if (next != zero)
				break;
		}
		if (zero)
			continue;
		s->pages = pages + i;
		err = ckpt_emit_run(s, parent, addr + ((unsigned long)i << PAGE_SHIFT),
				    end - i);
		s->pages = pages;
		c->pages += end - i;
	}
	return err;
}

static int ckpt_parent_meta(struct ckpt_stream *s, void *arg)
{
	const unsigned long *run = arg;	/* address, pages */

	return ckpt_put_u64(s, CKPT_A_META_ADDR, run[0]) ||
	       nla_put_u32(s->skb, CKPT_A_META_NR_PAGES, run[1]);
}

/*
 * The run of @nr present pages at @addr in s->pages[]: as data
 * (ckpt_emit_data()), or, in a checkpoint with a parent, cut where the
 * dirty ranges say, clean parts as parent-pages records (ckpt_dirty_span()):
 * a clean page is not read, so not checked for zeros either. Shifts
 * s->pages[] for each part. Counts the data pages only (the trailer's
 * nr-pages-total).
 */
static int ckpt_emit_split(struct ckpt_stream *s, u32 parent,
			   unsigned long addr, unsigned int nr, bool skip_zero,
			   struct ckpt_counts *c)
{
	struct page **pages = s->pages;
	unsigned long n, run[2];
	unsigned int done = 0;
	struct ckpt_rec rec;
	bool dirty;
	int err = 0;

	while (!err && done < nr) {
		n = ckpt_dirty_span(s, addr, nr - done, &dirty);
		if (dirty) {
			s->pages = pages + done;
			err = ckpt_emit_data(s, parent, addr, n, skip_zero, c);
			s->pages = pages;
		} else {
			run[0] = addr;
			run[1] = n;
			ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_PARENT_PAGES, parent, 0);
			err = ckpt_emit_simple(s, &rec, ckpt_parent_meta, run, false);
		}
		done += n;
		addr += n << PAGE_SHIFT;
	}
	return err;
}

/*
 * The first address in [addr, end) whose page tables are populated down
 * to the pmd, or end: unpopulated pgd, p4d, pud and pmd ranges are skipped
 * whole, so a terabyte reservation with one page touched costs a few
 * thousand reads instead of a lookup per page. Under the mmap lock, over a
 * range a vma covers under that same hold: munmap() frees the tables of a
 * range it has detached after downgrading its lock to read, so a range
 * found under an earlier hold (a pre-copy's running task, a CLONE_VM
 * sibling) may have lost them. A populated pmd is then walked page by page
 * by get_user_pages_remote().
 */
static unsigned long ckpt_skip_holes(struct mm_struct *mm, unsigned long addr,
				     unsigned long end)
{
	unsigned long next;
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	for (; addr < end; addr = next) {
		pgd = pgd_offset(mm, addr);
		next = pgd_addr_end(addr, end);
		if (pgd_none(READ_ONCE(*pgd)))
			continue;
		p4d = p4d_offset(pgd, addr);
		next = p4d_addr_end(addr, end);
		if (p4d_none(READ_ONCE(*p4d)))
			continue;
		pud = pud_offset(p4d, addr);
		next = pud_addr_end(addr, end);
		if (pud_none(READ_ONCE(*pud)))
			continue;
		pmd = pmd_offset(pud, addr);
		next = pmd_addr_end(addr, end);
		if (pmd_none(READ_ONCE(*pmd)))
			continue;
		return addr;
	}
	return end;
}

/*
 * Of a private file mapping, under the mmap lock, from the populated pmd
 * ckpt_skip_holes() found: how many of the @nr pages from @addr (within
 * that pmd) have no page table entry (*@none: never copied on write, so
 * the file's own; a fault would read the file, from a FUSE daemon for as
 * long as it likes, to learn only that) or all have one (present, or an
 * anonymous copy swapped out or migrating, which a fault brings back from
 * swap). A pmd that maps a huge page, or is not a table, is left to
 * get_user_pages_remote() whole. The table is read under RCU, as
 * pte_offset_map() reads it (not exported): 6.12 frees a table khugepaged
 * retracted after a grace period, 6.1 only under the mmap write lock.
 */
static unsigned long ckpt_pte_span(struct mm_struct *mm, unsigned long addr,
				   unsigned long nr, bool *none)
{
	pmd_t *pmd = pmd_offset(pud_offset(p4d_offset(pgd_offset(mm, addr), addr), addr),
				addr);
	pmd_t pmdval = READ_ONCE(*pmd);
	unsigned long i, n;
	pte_t *pte;

	n = min(nr, (pmd_addr_end(addr, addr + (nr << PAGE_SHIFT)) - addr) >> PAGE_SHIFT);
	*none = false;
	if (!pmd_present(pmdval) || pmd_trans_huge(pmdval) || pmd_bad(pmdval))
		return n;
	rcu_read_lock();
	pte = pte_offset_kernel(&pmdval, addr);
	*none = pte_none(ptep_get(pte));
	for (i = 1; i < n && pte_none(ptep_get(pte + i)) == *none; i++)
		;
	rcu_read_unlock();
	return i;
}

/* How many of @pages[0..@nr), from the first, ckpt_page_dumped() says @dumped of. */
static long ckpt_pages_alike(bool file_vma, struct page **pages, long nr,
			     bool dumped)
{
	long i = 0;

	while (i < nr && ckpt_page_dumped(file_vma, pages[i]) == dumped)
		i++;
	return i;
}

/*
 * Present pages of [start, end) of the pinned mm: get_user_pages_remote()
 * with FOLL_DUMP, as a core dump reads memory: it fails instead of
 * allocating where an anonymous page was never touched (or maps the zero
 * page), and stops a run at the first such hole. An untouched mapping
 * costs no data. Of a private file mapping, pages without a page table
 * entry are skipped unread (ckpt_pte_span()): FOLL_DUMP would fault them
 * in from the file. With @skip_zero, pages of zeros are left out too
 * (ckpt_emit_data()).
 */
static int ckpt_emit_pages(struct ckpt_stream *s, struct mm_struct *mm,
			   u32 parent, unsigned long start, unsigned long end,
			   bool file_vma, bool skip_zero, struct ckpt_counts *c)
{
	unsigned long addr = start, limit, nr;
	struct vm_area_struct *vma;
	long got, i, run, done;
	int err;

	while (addr < end) {
		err = ckpt_stream_check(s);
		if (err)
			return err;
		err = ckpt_mmap_read_lock(mm, s->deadline);
		if (err)
			return err;
		/*
		 * Only what a vma covers under this hold (ckpt_skip_holes()):
		 * the part of [addr, end) the next vma maps, if any.
		 */
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end) {
			mmap_read_unlock(mm);
			break;
		}
		addr = max(addr, vma->vm_start);
		limit = min(end, vma->vm_end);
		addr = ckpt_skip_holes(mm, addr, limit);
		if (addr == limit) {	/* no tables there: on to the next vma */
			mmap_read_unlock(mm);
			cond_resched();
			continue;
		}
		nr = min_t(unsigned long, (limit - addr) >> PAGE_SHIFT,
			   CKPT_PAGES_RUN_MAX);
		if (nr && file_vma) {
			bool none;

			nr = ckpt_pte_span(mm, addr, nr, &none);
			if (none) {	/* the file's own pages: no fault, no data */
				mmap_read_unlock(mm);
				addr += nr << PAGE_SHIFT;
				cond_resched();
				continue;
			}
		}
		got = nr ? ckpt_gup_remote(mm, addr, nr, FOLL_DUMP | FOLL_FORCE,
					   s->pages) : 0;
		mmap_read_unlock(mm);
		if (!nr)
			break;
		if (got == -EFAULT || got == 0) {
			addr += PAGE_SIZE;	/* a hole */
			cond_resched();
			continue;
		}
		if (got < 0)
			return got;

		/*
		 * The run ends at the first page that is the file's own. A
		 * batch that starts with the file's own pages skips all of
		 * them at once: one lookup per batch, not one per page.
		 */
		run = ckpt_pages_alike(file_vma, s->pages, got, true);
		err = run ? ckpt_emit_split(s, parent, addr, run, skip_zero, c) : 0;
		done = run ?: ckpt_pages_alike(file_vma, s->pages, got, false);
		for (i = 0; i < got; i++)
			put_page(s->pages[i]);
		if (err)
			return err;
		addr += done << PAGE_SHIFT;
	}
	return 0;
}

/*
 * The object's identity, size and, when it is shmem (tmpfs memory: what
 * memfd_add_seals() seals), its seals: read without the inode lock that
 * F_ADD_SEALS takes, a snapshot as of this read, like the size.
 */
static int ckpt_shmem_meta(struct ckpt_stream *s, void *arg)
{
	struct inode *inode = file_inode(arg);

	return ckpt_put_u64(s, CKPT_A_META_INO, inode->i_ino) ||
	       ckpt_put_u64(s, CKPT_A_META_SIZE, i_size_read(inode)) ||
	       (shmem_mapping(inode->i_mapping) &&
		nla_put_u32(s->skb, CKPT_A_META_SEALS,
			    READ_ONCE(SHMEM_I(inode)->seals)));
}

/*
 * The shmem record of a vma mapping the unnamed shared memory object
 * @file from page @pgoff, then the pages the object holds at [start, end):
 * found in its page cache with xa_find(), so a hole is skipped without
 * being allocated (a fault through the vma would fill it), and read with
 * shmem_read_mapping_page_gfp(), which brings a swapped-out page back. A
 * page truncated in between reads as a new zero page, as the hole it
 * became would; past the new end of the object it is a hole. Under our
 * reference to @file only: the pages are the object's, whatever the
 * target's page tables map.
 */
static int ckpt_emit_shmem(struct ckpt_stream *s, struct file *file,
			   u32 parent, unsigned long start, unsigned long end,
			   pgoff_t pgoff, struct ckpt_counts *c)
{
	struct address_space *mapping = file->f_mapping;
	unsigned long index = pgoff, last = pgoff + ((end - start) >> PAGE_SHIFT) - 1;
	unsigned int run, i;
	struct ckpt_rec rec;
	struct page *page;
	int err;

	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_SHMEM, parent, 0);
	err = ckpt_emit_simple(s, &rec, ckpt_shmem_meta, file, false);
	while (!err && index <= last) {
		err = ckpt_stream_check(s);
		if (err || !xa_find(&mapping->i_pages, &index, last, XA_PRESENT))
			break;
		for (run = 0; run < CKPT_PAGES_RUN_MAX && index + run <= last; run++) {
			if (run && !xa_load(&mapping->i_pages, index + run))
				break;
			page = shmem_read_mapping_page_gfp(mapping, index + run,
							   mapping_gfp_mask(mapping));
			if (IS_ERR(page)) {
				if (!run && PTR_ERR(page) != -EINVAL)
					err = PTR_ERR(page);
				break;
			}
			s->pages[run] = page;
		}
		if (run)
			err = ckpt_emit_run(s, parent,
					    start + ((index - pgoff) << PAGE_SHIFT), run);
		for (i = 0; i < run; i++)
			put_page(s->pages[i]);
		c->pages += run;
		index += run ? run : 1;
	}
	return err;
}

/* The vma at or after @*addr: its record is filled under the mmap lock. */
static int ckpt_emit_vma(struct ckpt_stream *s, struct mm_struct *mm,
			 u32 parent, unsigned long *addr, struct ckpt_counts *c)
{
	unsigned long start, end;
	struct vm_area_struct *vma;
	struct ckpt_rec rec;
	vm_flags_t flags;
	struct file *shmem = NULL;
	char *path = NULL;
	bool dumped, file_vma, copied, skip_zero;
	pgoff_t pgoff;
	int err;

	err = ckpt_image_lock(s);
	if (err)
		return err;
	err = ckpt_mmap_read_lock(mm, s->deadline);
	if (err) {
		ckpt_image_unlock(s);
		return err;
	}
	vma = find_vma(mm, *addr);
	if (!vma) {
		mmap_read_unlock(mm);
		ckpt_image_unlock(s);
		return 1;
	}
	start = vma->vm_start;
	end = vma->vm_end;
	flags = vma->vm_flags;
	dumped = ckpt_vma_dumpable(vma);
	file_vma = vma->vm_file;
	/*
	 * Of a private file mapping the image carries the pages the task
	 * wrote (copies: PageAnon). Until the first such write the vma has no
	 * anon_vma and every page is the file's: none is looked up (a lookup
	 * would also read in file pages the task never touched).
	 */
	copied = !file_vma || vma->anon_vma;
	/*
	 * A page of zeros is data only where leaving it out would change what
	 * a restore reads: a file's bytes, shared memory, a special mapping.
	 */
	skip_zero = vma_is_anonymous(vma) && !(flags & VM_SHARED);
	pgoff = vma->vm_pgoff;
	if (dumped && ckpt_vma_anon_shmem(vma))
		shmem = get_file(vma->vm_file);
	if (vma->vm_file) {
		path = d_path(&vma->vm_file->f_path, s->path, PATH_MAX);
		if (IS_ERR(path))
			path = NULL;
	}
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_VMA, parent, 0);
	err = ckpt_frag_begin(s, &rec, 0);
	if (!err &&
	    WARN_ON_ONCE(ckpt_put_u64(s, CKPT_A_META_START, start) ||
			 ckpt_put_u64(s, CKPT_A_META_END, end) ||
			 ckpt_put_u64(s, CKPT_A_META_VM_FLAGS, flags) ||
			 ckpt_put_u64(s, CKPT_A_META_PGOFF, pgoff) ||
			 (path && nla_put_string(s->skb, CKPT_A_META_PATH, path)) ||
			 (vma->vm_file && ckpt_put_identity(s, vma->vm_file))))
		err = -EMSGSIZE;
	mmap_read_unlock(mm);
	ckpt_image_unlock(s);
	if (!err) {
		ckpt_meta_end(s);
		err = ckpt_frag_send(s);
	}
	if (!err) {
		c->vmas++;
		*addr = end;
		if (shmem)
			err = ckpt_emit_shmem(s, shmem, rec.id, start, end, pgoff, c);
		else if (dumped && copied)
			err = ckpt_emit_pages(s, mm, rec.id, start, end, file_vma,
					      skip_zero, c);
	}
	if (shmem)
		fput(shmem);
	return err;
}

/* The pinned mm, never task->mm: see the top of this file. */
static int ckpt_emit_mm(struct ckpt_stream *s, u32 parent,
			struct ckpt_counts *c)
{
	struct mm_struct *mm = s->mm;
	unsigned long addr = 0;
	struct ckpt_rec rec;
	int err;

	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_MM, parent, 0);
	err = ckpt_mmap_read_lock(mm, s->deadline);
	if (err)
		return err;
	err = ckpt_frag_begin(s, &rec, 0);
	if (!err && WARN_ON_ONCE(ckpt_mm_meta(s, mm)))
		err = -EMSGSIZE;
	mmap_read_unlock(mm);
	if (err)
		return err;
	ckpt_meta_end(s);
	err = ckpt_frag_send(s);

	while (!err)
		err = ckpt_emit_vma(s, mm, rec.id, &addr, c);
	return err == 1 ? 0 : err;
}

/* What a pipe holds: a copy taken by ckpt_pipe_peek(). */
struct ckpt_pipe {
	u32 size;	/* capacity, bytes */
	u32 bytes;	/* held */
	u8 *data;	/* a copy of them, or NULL */
};

/*
 * pipe_buf_confirm() without its wait: only a spliced page-cache buffer
 * has a confirm step, and it waits (for the folio lock) only while the page
 * is not yet read, which a FUSE daemon may make last as long as it likes.
 * Such a buffer counts as one that failed to read: the record carries no
 * copy, as for a page whose read failed.
 */
static bool ckpt_pipe_buf_ready(struct pipe_inode_info *pipe,
				struct pipe_buffer *buf)
{
	if (buf->ops->confirm && !folio_test_uptodate(page_folio(buf->page)))
		return false;
	return !pipe_buf_confirm(pipe, buf);
}

/*
 * A pipe buffer's bytes, a page at a time: a buffer may span the pages of
 * a compound page (TCP data spliced into a pipe), which memcpy_from_page()
 * refuses past the first (VM_BUG_ON on CONFIG_DEBUG_VM kernels).
 */
static void ckpt_copy_from_buf(void *to, struct page *page, size_t offset,
			       size_t len)
{
	while (len) {
		size_t in = offset & ~PAGE_MASK;
		size_t n = min_t(size_t, len, PAGE_SIZE - in);

		memcpy_from_page(to, nth_page(page, offset >> PAGE_SHIFT), in, n);
		to += n;
		offset += n;
		len -= n;
	}
}

/*
 * The pipe @file keeps alive, or NULL. An O_PATH descriptor of a FIFO never
 * opened the pipe (no fifo_open(), no count in pipe->files): the last real
 * reader or writer frees inode->i_pipe under it, so it is not a pipe here.
 * Read once: the caller uses this pointer, not i_pipe again.
 */
static struct pipe_inode_info *ckpt_file_pipe(struct file *file)
{
	if (!S_ISFIFO(file_inode(file)->i_mode) || (file->f_mode & FMODE_PATH))
		return NULL;
	return READ_ONCE(file_inode(file)->i_pipe);
}

/*
 * @pipe, the pipe behind @file (an anonymous pipe or a FIFO opened for
 * reading or writing: inode->i_pipe, kept alive by our reference to @file,
 * which holds one of pipe->files; ckpt_file_pipe() says which files do),
 * read without consuming it: under the pipe's mutex, as a reader takes it
 * (waited for until the stream's deadline: a writer holds it while it
 * faults its source), its capacity and the bytes its ring holds, and for a
 * read end a copy of them when they are at most CKPT_PIPE_DATA_MAX
 * (kvmalloc'd, charged to the requester). A buffer that cannot be
 * confirmed (a spliced page that failed to read, or is still being read:
 * ckpt_pipe_buf_ready()) leaves no copy: the record then says how many
 * bytes there were and carries none.
 */
static int ckpt_pipe_peek(struct file *file, struct pipe_inode_info *pipe,
			  unsigned long deadline, struct ckpt_pipe *p)
{
	unsigned int head, tail, mask, i;
	size_t off = 0;

	/* The pipe's mutex, as a reader takes it; a writer may hold it while it faults. */
	if (ckpt_mutex_lock(&pipe->mutex, deadline))
		return -EBUSY;
	p->size = pipe->max_usage << PAGE_SHIFT;
	head = pipe->head;
	tail = pipe->tail;
	mask = pipe->ring_size - 1;
	for (i = tail; i != head; i++)
		p->bytes += pipe->bufs[i & mask].len;
	if (!p->bytes || p->bytes > CKPT_PIPE_DATA_MAX || !(file->f_mode & FMODE_READ))
		goto out;
	p->data = kvmalloc(p->bytes, GFP_KERNEL_ACCOUNT);
	if (!p->data) {
		mutex_unlock(&pipe->mutex);
		return -ENOMEM;
	}
	for (i = tail; i != head; i++) {
		struct pipe_buffer *buf = &pipe->bufs[i & mask];

		if (!ckpt_pipe_buf_ready(pipe, buf)) {
			kvfree(p->data);
			p->data = NULL;
			break;
		}
		ckpt_copy_from_buf(p->data + off, buf->page, buf->offset, buf->len);
		off += buf->len;
	}
out:
	mutex_unlock(&pipe->mutex);
	return 0;
}

/*
 * A record of @type under @parent whose data is @len bytes of @data, in as
 * many fragments as it takes; emit_meta() puts the first one's fields.
 */
static int ckpt_emit_buffer(struct ckpt_stream *s, u32 type, u32 parent,
			    const u8 *data, u32 len,
			    int (*emit_meta)(struct ckpt_stream *s, const void *arg),
			    const void *arg)
{
	u32 done = 0, n;
	struct ckpt_rec rec;
	u8 *buf;
	int err;

	ckpt_rec_init(s, &rec, type, parent, len);
	do {
		n = min_t(u32, len - done, CKPT_FRAG_DATA);
		err = ckpt_frag_begin(s, &rec, n);
		if (err)
			return err;
		if (!done) {
			if (WARN_ON_ONCE(emit_meta(s, arg)))
				return -EMSGSIZE;
			ckpt_meta_end(s);
		}
		if (n) {
			buf = ckpt_frag_data(s, &rec, n);
			if (!buf)
				return -EMSGSIZE;
			memcpy(buf, data + done, n);
		}
		err = ckpt_frag_send(s);
		if (err)
			return err;
		done += n;
	} while (done < len);
	return 0;
}

static int ckpt_pipe_meta(struct ckpt_stream *s, const void *arg)
{
	const struct ckpt_pipe *p = arg;

	return nla_put_u32(s->skb, CKPT_A_META_PIPE_SIZE, p->size) ||
	       nla_put_u32(s->skb, CKPT_A_META_PIPE_BYTES, p->bytes);
}

static int ckpt_unix_meta(struct ckpt_stream *s, const void *arg)
{
	const struct ckpt_unix *u = arg;

	return nla_put_u32(s->skb, CKPT_A_META_SOCK_TYPE, u->type) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_STATE, u->state) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_FLAGS, u->flags) ||
	       ckpt_put_u64(s, CKPT_A_META_PEER_INO, u->peer_ino) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_SHUTDOWN, u->shutdown) ||
	       ckpt_put_u64(s, CKPT_A_META_SOCK_BYTES, u->bytes) ||
	       nla_put_u32(s->skb, CKPT_A_META_SNDBUF, u->sndbuf) ||
	       nla_put_u32(s->skb, CKPT_A_META_RCVBUF, u->rcvbuf) ||
	       (u->addr_len &&
		nla_put(s->skb, CKPT_A_META_SOCK_ADDR, u->addr_len, &u->addr)) ||
	       (u->peer_len &&
		nla_put(s->skb, CKPT_A_META_SOCK_PEER_ADDR, u->peer_len, &u->peer_addr)) ||
	       (u->state == TCP_LISTEN &&
		(nla_put_u32(s->skb, CKPT_A_META_SOCK_BACKLOG, u->backlog) ||
		 nla_put_u32(s->skb, CKPT_A_META_SOCK_QUEUED, u->queued)));
}

static int ckpt_inet_meta(struct ckpt_stream *s, const void *arg)
{
	const struct ckpt_inet *in = arg;

	return nla_put_u32(s->skb, CKPT_A_META_SOCK_FAMILY, in->family) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_TYPE, in->type) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_PROTOCOL, in->protocol) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_STATE, in->state) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_FLAGS, in->flags) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_SHUTDOWN, in->shutdown) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_BACKLOG, in->backlog) ||
	       nla_put_u32(s->skb, CKPT_A_META_SOCK_QUEUED, in->queued) ||
	       nla_put_u32(s->skb, CKPT_A_META_SNDBUF, in->sndbuf) ||
	       nla_put_u32(s->skb, CKPT_A_META_RCVBUF, in->rcvbuf) ||
	       (in->addr_len &&
		nla_put(s->skb, CKPT_A_META_SOCK_ADDR, in->addr_len, &in->addr)) ||
	       (in->peer_len &&
		nla_put(s->skb, CKPT_A_META_SOCK_PEER_ADDR, in->peer_len, &in->peer));
}

static int ckpt_emit_fdinfo(struct ckpt_stream *s, u32 parent, const char *text,
			    size_t len)
{
	struct ckpt_rec rec;
	u8 *buf;
	int err;

	BUILD_BUG_ON(CKPT_FDINFO_MAX > CKPT_FRAG_DATA);
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_FDINFO, parent, len);
	err = ckpt_frag_begin(s, &rec, len);
	if (err)
		return err;
	ckpt_meta_end(s);
	buf = ckpt_frag_data(s, &rec, len);
	if (!buf)
		return -EMSGSIZE;
	memcpy(buf, text, len);
	return ckpt_frag_send(s);
}

/*
 * One record per open descriptor: fd, f_flags, position, path; for a pipe
 * or FIFO also a pipe record with what it holds, for a Unix socket a unix
 * record (unix.c), for a TCP or UDP socket an inet record (inet.c), for an
 * inotify, eventfd, signalfd, timerfd or epoll
 * descriptor an fdinfo record.
 */
static int ckpt_emit_files(struct ckpt_stream *s, struct task_struct *task,
			   u32 parent, struct ckpt_counts *c)
{
	unsigned int fd = 0;
	struct ckpt_unix sock;
	struct ckpt_inet inet;
	struct ckpt_pipe pipe;
	struct ckpt_rec rec;
	struct file *file;
	char *path, *fdinfo;
	size_t fdinfo_len;
	struct pipe_inode_info *pipe_info;
	bool is_pipe, is_unix, is_inet;
	int err;

	for (;; fd++) {
		err = ckpt_image_lock(s);
		if (err)
			return err;
		file = ckpt_next_file(task, &fd);
		if (!file) {
			ckpt_image_unlock(s);
			return 0;
		}
		path = d_path(&file->f_path, s->path, PATH_MAX);
		ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_FILE, parent, 0);
		err = ckpt_frag_begin(s, &rec, 0);
		if (!err &&
		    WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_FD, fd) ||
				 nla_put_u32(s->skb, CKPT_A_META_F_FLAGS, file->f_flags) ||
				 ckpt_put_u64(s, CKPT_A_META_POS, file->f_pos) ||
				 (!IS_ERR(path) &&
				  nla_put_string(s->skb, CKPT_A_META_PATH, path)) ||
				 ckpt_put_identity(s, file) ||
				 ckpt_put_u64(s, CKPT_A_META_FILE_ID, ckpt_file_id(file))))
			err = -EMSGSIZE;
		ckpt_image_unlock(s);
		/* Our reference keeps the pipe; no task lock is needed to read it. */
		memset(&pipe, 0, sizeof(pipe));
		pipe_info = ckpt_file_pipe(file);
		is_pipe = !!pipe_info;
		if (!err && is_pipe)
			err = ckpt_pipe_peek(file, pipe_info, s->deadline, &pipe);
		memset(&sock, 0, sizeof(sock));
		is_unix = ckpt_is_unix(file);
		if (!err && is_unix)
			err = ckpt_unix_peek(file, &sock);
		memset(&inet, 0, sizeof(inet));
		is_inet = ckpt_is_inet(file);
		if (!err && is_inet)
			err = ckpt_inet_peek(file, &inet);
		fdinfo = NULL;
		if (!err && ckpt_fdinfo_wanted(file))
			err = ckpt_fdinfo_read(s, file, &fdinfo, &fdinfo_len);
		fput(file);
		if (!err) {
			ckpt_meta_end(s);
			err = ckpt_frag_send(s);
		}
		if (!err && is_pipe)
			err = ckpt_emit_buffer(s, CKPT_RECORD_TYPE_PIPE, rec.id, pipe.data,
					       pipe.data ? pipe.bytes : 0, ckpt_pipe_meta, &pipe);
		if (!err && is_unix)
			err = ckpt_emit_buffer(s, CKPT_RECORD_TYPE_UNIX, rec.id, sock.data,
					       sock.data_len, ckpt_unix_meta, &sock);
		if (!err && is_inet)
			err = ckpt_emit_buffer(s, CKPT_RECORD_TYPE_INET, rec.id, NULL, 0,
					       ckpt_inet_meta, &inet);
		if (!err && fdinfo)
			err = ckpt_emit_fdinfo(s, rec.id, fdinfo, fdinfo_len);
		kvfree(pipe.data);
		kvfree(sock.data);
		kvfree(fdinfo);
		if (err)
			return err;
		c->files++;
	}
}

static int ckpt_trailer_meta(struct ckpt_stream *s, void *arg)
{
	struct ckpt_counts *c = arg;

	return nla_put_u32(s->skb, CKPT_A_META_NR_THREADS, c->threads) ||
	       nla_put_u32(s->skb, CKPT_A_META_NR_VMAS, c->vmas) ||
	       ckpt_put_u64(s, CKPT_A_META_NR_PAGES_TOTAL, c->pages) ||
	       nla_put_u32(s->skb, CKPT_A_META_NR_FILES, c->files);
}

/*
 * A zombie: all that is left of it are its ids and its exit status (no
 * threads, mm, files or fs). They change no more, so no lock keeps them;
 * if its parent waits for it meanwhile, it is released and its pids read
 * 0: checked after the task record, so a record that was read then is
 * never part of a complete stream.
 */
static int ckpt_checkpoint_zombie(struct ckpt_stream *s, struct task_struct *task)
{
	struct ckpt_counts c = {};
	struct ckpt_rec rec;
	int err;

	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_HEADER, 0, 0);
	err = ckpt_emit_simple(s, &rec, ckpt_header_meta, NULL, false);
	if (err)
		return err;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TASK, 0, 0);
	err = ckpt_emit_simple(s, &rec, ckpt_task_meta, task, false);
	if (err)
		return err;
	if (!task_tgid_nr_ns(task, s->pid_ns))
		return -ESRCH;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TRAILER, 0, 0);
	return ckpt_emit_simple(s, &rec, ckpt_trailer_meta, &c, false);
}

/*
 * Emits every record of @task after the stream's begin message. On error
 * the caller aborts the stream; s->reason says why when a send failed.
 */
int ckpt_checkpoint_task(struct ckpt_stream *s, struct task_struct *task)
{
	struct ckpt_counts c = {};
	struct ckpt_rec rec;
	u32 task_id;
	int err;

	if (s->zombie)
		return ckpt_checkpoint_zombie(s, task);
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_HEADER, 0, 0);
	err = ckpt_emit_simple(s, &rec, ckpt_header_meta, NULL, false);
	if (err)
		return err;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TASK, 0, 0);
	task_id = rec.id;
	err = ckpt_emit_simple(s, &rec, ckpt_task_meta, task, true);
	if (err)
		return err;
	/* A pre-copy's task runs: its memory only (registers would be torn). */
	if (!(s->flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY)) {
		err = ckpt_emit_regs(s, task, task_id, &c);
		if (err)
			return err;
		err = ckpt_emit_sigactions(s, task, task_id);
		if (err)
			return err;
		err = ckpt_emit_rlimits(s, task, task_id);
		if (err)
			return err;
	}
	err = ckpt_emit_mm(s, task_id, &c);
	if (err)
		return err;
	if (!(s->flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY)) {
		err = ckpt_emit_files(s, task, task_id, &c);
		if (err)
			return err;
	}
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TRAILER, 0, 0);
	return ckpt_emit_simple(s, &rec, ckpt_trailer_meta, &c, false);
}
