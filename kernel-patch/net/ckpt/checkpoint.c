// SPDX-License-Identifier: GPL-2.0
/*
 * Record producers: read a task and emit its records in stream order
 *
 *   header, task { regs..., mm { vma { pages... }... }, file... }, trailer
 *
 * Rule for every producer: fill one message while holding what the reading
 * needs (the mmap lock, RCU, a file reference), drop it, then send. Sending
 * may sleep for as long as the sink takes to drain; nothing of the target
 * is locked meanwhile. Page contents are held by page references between
 * reading and sending, never copied into a second kernel buffer.
 */
#include <linux/cred.h>
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pid_namespace.h>
#include <linux/regset.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/timekeeping.h>
#include <linux/utsname.h>
#include <asm/user.h>

#include "internal.h"

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

/* A record with meta only: emit_meta() puts the fields. */
static int ckpt_emit_simple(struct ckpt_stream *s, struct ckpt_rec *rec,
			    int (*emit_meta)(struct ckpt_stream *s, void *arg),
			    void *arg)
{
	int err;

	err = ckpt_frag_begin(s, rec, 0);
	if (err)
		return err;
	err = emit_meta(s, arg);
	if (WARN_ON_ONCE(err)) {
		/* The message is sized for the largest meta: a bug. */
		kfree_skb(s->skb);
		s->skb = NULL;
		return -EMSGSIZE;
	}
	ckpt_meta_end(s);
	return ckpt_frag_send(s);
}

static int ckpt_header_meta(struct ckpt_stream *s, void *arg)
{
	struct new_utsname *uts = init_utsname();

	return nla_put_string(s->skb, CKPT_A_META_ARCH, uts->machine) ||
	       nla_put_u32(s->skb, CKPT_A_META_PAGE_SIZE, PAGE_SIZE) ||
	       nla_put_string(s->skb, CKPT_A_META_RELEASE, uts->release) ||
	       ckpt_put_u64(s, CKPT_A_META_TIME_NS, ktime_get_real_ns());
}

/* Ids as the requester sees them: its pid and user namespaces. */
static int ckpt_task_meta(struct ckpt_stream *s, void *arg)
{
	struct task_struct *task = arg;
	struct user_namespace *ns = current_user_ns();
	char comm[TASK_COMM_LEN];
	const struct cred *cred;
	pid_t ppid;
	int err;

	rcu_read_lock();
	ppid = task_tgid_vnr(rcu_dereference(task->real_parent));
	rcu_read_unlock();
	get_task_comm(comm, task);
	cred = get_task_cred(task);
	err = nla_put_u32(s->skb, CKPT_A_META_PID, task_pid_vnr(task)) ||
	      nla_put_u32(s->skb, CKPT_A_META_TGID, task_tgid_vnr(task)) ||
	      nla_put_u32(s->skb, CKPT_A_META_PPID, ppid) ||
	      nla_put_string(s->skb, CKPT_A_META_COMM, comm) ||
	      nla_put_u32(s->skb, CKPT_A_META_UID, from_kuid_munged(ns, cred->uid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_GID, from_kgid_munged(ns, cred->gid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_EUID, from_kuid_munged(ns, cred->euid)) ||
	      nla_put_u32(s->skb, CKPT_A_META_EGID, from_kgid_munged(ns, cred->egid));
	put_cred(cred);
	return err;
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

/* One regs record per thread: the x86-64 NT_PRSTATUS regset. */
static int ckpt_emit_regs(struct ckpt_stream *s, struct task_struct *task,
			  u32 parent, struct ckpt_counts *c)
{
	const struct user_regset_view *view = task_user_regset_view(task);
	const struct user_regset *rs = &view->regsets[0];
	const u32 len = sizeof(struct user_regs_struct);
	struct task_struct *t;
	struct ckpt_rec rec;
	void *buf;
	int err;

	if (WARN_ON_ONCE(rs->core_note_type != NT_PRSTATUS ||
			 rs->n * rs->size != len))
		return -EOPNOTSUPP;

	while ((t = ckpt_nth_thread(task, c->threads))) {
		ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_REGS, parent, len);
		err = ckpt_frag_begin(s, &rec, len);
		if (err)
			goto out_put;
		if (WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_TID,
					     task_pid_vnr(t)))) {
			err = -EMSGSIZE;
			goto out_put;
		}
		ckpt_meta_end(s);
		buf = ckpt_frag_data(s, &rec, len);
		err = buf ? regset_get(t, rs, len, buf) : -EMSGSIZE;
		put_task_struct(t);
		if (err >= 0 && err != len)
			err = -EFAULT;
		if (err < 0)
			return err;
		err = ckpt_frag_send(s);
		if (err)
			return err;
		c->threads++;
	}
	return 0;

out_put:
	put_task_struct(t);
	return err;
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
	       ckpt_put_u64(s, CKPT_A_META_ENV_END, mm->env_end);
}

/* A run of @nr present pages at @addr, held by s->pages[], fragmented. */
static int ckpt_emit_run(struct ckpt_stream *s, u32 parent, unsigned long addr,
			 unsigned int nr)
{
	struct ckpt_rec rec;
	unsigned int i = 0, n;
	u8 *buf;
	int err;

	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_PAGES, parent,
		      (u64)nr << PAGE_SHIFT);
	while (i < nr) {
		n = min_t(unsigned int, nr - i, CKPT_FRAG_DATA >> PAGE_SHIFT);
		err = ckpt_frag_begin(s, &rec, n << PAGE_SHIFT);
		if (err)
			return err;
		if (!i) {
			if (WARN_ON_ONCE(ckpt_put_u64(s, CKPT_A_META_ADDR, addr) ||
					 nla_put_u32(s->skb, CKPT_A_META_NR_PAGES, nr)))
				return -EMSGSIZE;
			ckpt_meta_end(s);
		}
		buf = ckpt_frag_data(s, &rec, n << PAGE_SHIFT);
		if (!buf)
			return -EMSGSIZE;
		for (; n; n--, i++, buf += PAGE_SIZE)
			memcpy_from_page(buf, s->pages[i], 0, PAGE_SIZE);
		err = ckpt_frag_send(s);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Present pages of [start, end): get_user_pages_remote() with FOLL_DUMP,
 * as a core dump reads memory: it fails instead of allocating where an
 * anonymous page was never touched (or maps the zero page), and stops a
 * run at the first such hole. An untouched mapping costs no data.
 */
static int ckpt_emit_pages(struct ckpt_stream *s, struct mm_struct *mm,
			   u32 parent, unsigned long start, unsigned long end,
			   struct ckpt_counts *c)
{
	unsigned long addr = start, nr;
	long got, i;
	int err;

	while (addr < end) {
		if (fatal_signal_pending(current))
			return -EINTR;
		nr = min_t(unsigned long, (end - addr) >> PAGE_SHIFT,
			   CKPT_PAGES_RUN_MAX);
		if (mmap_read_lock_killable(mm))
			return -EINTR;
		got = ckpt_gup_remote(mm, addr, nr, FOLL_DUMP | FOLL_FORCE,
				      s->pages);
		mmap_read_unlock(mm);
		if (got == -EFAULT || got == 0) {
			addr += PAGE_SIZE;	/* a hole */
			cond_resched();
			continue;
		}
		if (got < 0)
			return got;

		err = ckpt_emit_run(s, parent, addr, got);
		for (i = 0; i < got; i++)
			put_page(s->pages[i]);
		if (err)
			return err;
		addr += got << PAGE_SHIFT;
		c->pages += got;
	}
	return 0;
}

static bool ckpt_vma_dumped(vm_flags_t flags)
{
	return (flags & (VM_WRITE | VM_SHARED)) == VM_WRITE &&
	       !(flags & (VM_IO | VM_PFNMAP));
}

/* The vma at or after @*addr: its record is filled under the mmap lock. */
static int ckpt_emit_vma(struct ckpt_stream *s, struct mm_struct *mm,
			 u32 parent, unsigned long *addr, struct ckpt_counts *c)
{
	unsigned long start, end;
	struct vm_area_struct *vma;
	struct ckpt_rec rec;
	vm_flags_t flags;
	char *path = NULL;
	int err;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = find_vma(mm, *addr);
	if (!vma) {
		mmap_read_unlock(mm);
		return 1;
	}
	start = vma->vm_start;
	end = vma->vm_end;
	flags = vma->vm_flags;
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
			 ckpt_put_u64(s, CKPT_A_META_PGOFF, vma->vm_pgoff) ||
			 (path && nla_put_string(s->skb, CKPT_A_META_PATH, path))))
		err = -EMSGSIZE;
	mmap_read_unlock(mm);
	if (err)
		return err;

	ckpt_meta_end(s);
	err = ckpt_frag_send(s);
	if (err)
		return err;
	c->vmas++;
	*addr = end;
	if (ckpt_vma_dumped(flags))
		return ckpt_emit_pages(s, mm, rec.id, start, end, c);
	return 0;
}

static int ckpt_emit_mm(struct ckpt_stream *s, struct task_struct *task,
			u32 parent, struct ckpt_counts *c)
{
	struct mm_struct *mm = get_task_mm(task);
	unsigned long addr = 0;
	struct ckpt_rec rec;
	int err;

	if (!mm)
		return -ESRCH;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_MM, parent, 0);
	err = mmap_read_lock_killable(mm);
	if (err)
		goto out;
	err = ckpt_frag_begin(s, &rec, 0);
	if (!err && WARN_ON_ONCE(ckpt_mm_meta(s, mm)))
		err = -EMSGSIZE;
	mmap_read_unlock(mm);
	if (err)
		goto out;
	ckpt_meta_end(s);
	err = ckpt_frag_send(s);

	while (!err)
		err = ckpt_emit_vma(s, mm, rec.id, &addr, c);
	if (err == 1)
		err = 0;
out:
	mmput(mm);
	return err;
}

/* One record per open descriptor: fd, f_flags, position, path. */
static int ckpt_emit_files(struct ckpt_stream *s, struct task_struct *task,
			   u32 parent, struct ckpt_counts *c)
{
	unsigned int fd = 0;
	struct ckpt_rec rec;
	struct file *file;
	char *path;
	int err;

	for (;; fd++) {
		file = ckpt_next_file(task, &fd);
		if (!file)
			return 0;
		path = d_path(&file->f_path, s->path, PATH_MAX);
		ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_FILE, parent, 0);
		err = ckpt_frag_begin(s, &rec, 0);
		if (!err &&
		    WARN_ON_ONCE(nla_put_u32(s->skb, CKPT_A_META_FD, fd) ||
				 nla_put_u32(s->skb, CKPT_A_META_F_FLAGS, file->f_flags) ||
				 ckpt_put_u64(s, CKPT_A_META_POS, file->f_pos) ||
				 (!IS_ERR(path) &&
				  nla_put_string(s->skb, CKPT_A_META_PATH, path))))
			err = -EMSGSIZE;
		fput(file);
		if (err)
			return err;
		ckpt_meta_end(s);
		err = ckpt_frag_send(s);
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
 * Emits every record of @task after the stream's begin message. On error
 * the caller aborts the stream; s->reason says why when a send failed.
 */
int ckpt_checkpoint_task(struct ckpt_stream *s, struct task_struct *task)
{
	struct ckpt_counts c = {};
	struct ckpt_rec rec;
	u32 task_id;
	int err;

	s->task = task;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_HEADER, 0, 0);
	err = ckpt_emit_simple(s, &rec, ckpt_header_meta, NULL);
	if (err)
		return err;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TASK, 0, 0);
	task_id = rec.id;
	err = ckpt_emit_simple(s, &rec, ckpt_task_meta, task);
	if (err)
		return err;
	err = ckpt_emit_regs(s, task, task_id, &c);
	if (err)
		return err;
	err = ckpt_emit_mm(s, task, task_id, &c);
	if (err)
		return err;
	err = ckpt_emit_files(s, task, task_id, &c);
	if (err)
		return err;
	ckpt_rec_init(s, &rec, CKPT_RECORD_TYPE_TRAILER, 0, 0);
	return ckpt_emit_simple(s, &rec, ckpt_trailer_meta, &c);
}
