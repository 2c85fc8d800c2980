/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels the out-of-tree module builds against
 * (Debian's 6.12 and 6.1). The in-tree patch series has no need for this
 * file: it only ever builds against its own tree.
 */
#ifndef _CKPT_COMPAT_H
#define _CKPT_COMPAT_H

#include <linux/version.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
/*
 * 6.1 has no split do/dump ops: the generated ckpt-nl-gen.c describes its
 * ops with struct genl_split_ops. Its do-only entries use fields that
 * struct genl_ops has too (cmd, doit, policy, maxattr, flags), so on 6.1
 * ckpt-nl-gen-compat.c includes the generated file with these names
 * mapped instead of us editing generated code.
 */
#define CKPT_COMPAT_NO_SPLIT_OPS 1

/*
 * 6.1's extack holds only a pointer to a message that must outlive the
 * request (6.2 added a buffer inside the extack). ckpt_compat_fmt()
 * formats into one of a small ring of static buffers: a message stays
 * intact unless 32 more formatted errors happen before its ack is sent.
 */
#ifndef NL_SET_ERR_MSG_FMT
__printf(1, 2) const char *ckpt_compat_fmt(const char *fmt, ...);
#define NL_SET_ERR_MSG_FMT(extack, fmt, args...) do {			\
	struct netlink_ext_ack *__ckpt_ext = (extack);			\
									\
	if (__ckpt_ext)							\
		__ckpt_ext->_msg = ckpt_compat_fmt(fmt, ##args);	\
} while (0)
#define CKPT_COMPAT_FMT 1
#endif
#endif

/* A file's mtime in ns: inode_get_mtime() came in 6.6. */
static inline u64 ckpt_inode_mtime_ns(struct inode *inode)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
	struct timespec64 t = inode->i_mtime;
#else
	struct timespec64 t = inode_get_mtime(inode);
#endif

	return timespec64_to_ns(&t);
}

/* Shadow stacks (and VM_SHADOW_STACK) came in 6.6. */
#ifndef VM_SHADOW_STACK
#define VM_SHADOW_STACK VM_NONE
#endif

/*
 * mmap_write_lock() without the wait (there is no mmap_write_trylock()):
 * its steps, with down_write_trylock(). Since 6.12.y (Debian's 6.12.118)
 * taking the write lock also begins mm_lock_seq's write section, which
 * mmap_write_unlock() ends; 6.1 has no such section.
 */
static inline bool ckpt_mmap_write_trylock(struct mm_struct *mm)
{
	if (!down_write_trylock(&mm->mmap_lock))
		return false;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	mm_lock_seqcount_begin(mm);
#endif
	return true;
}

/* get_user_pages_remote() lost its vmas argument in 6.5. */
static inline long ckpt_gup_remote(struct mm_struct *mm, unsigned long start,
				   unsigned long nr_pages,
				   unsigned int gup_flags, struct page **pages)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	return get_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, NULL);
#else
	return get_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL);
#endif
}

/*
 * The open file of @task at or after *@fd, with a reference, or NULL. The
 * exported helper returned no reference before 6.7 (then renamed *_fdget_*).
 */
static inline struct file *ckpt_next_file(struct task_struct *task,
					  unsigned int *fd)
{
	struct file *file;

	rcu_read_lock();
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
	for (;; (*fd)++) {
		file = task_lookup_next_fd_rcu(task, fd);
		if (!file || get_file_rcu(file))
			break;
	}
#else
	file = task_lookup_next_fdget_rcu(task, fd);
#endif
	rcu_read_unlock();
	return file;
}

#ifdef CONFIG_RSEQ
/* The registered rseq area's length: fixed at 32 bytes before 6.3. */
static inline u32 ckpt_rseq_len(struct task_struct *t)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	return t->rseq ? 32 : 0;
#else
	return t->rseq_len;
#endif
}
#endif

#endif /* _CKPT_COMPAT_H */
