/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: what the module's files share. The protocol itself is documented at
 * the top of include/uapi/linux/ckpt.h.
 */
#ifndef _CKPT_INTERNAL_H
#define _CKPT_INTERNAL_H

#include <linux/atomic.h>
#include <linux/crc32.h>
#include <linux/crc32c.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/in6.h>
#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <linux/un.h>
#include <linux/userfaultfd_k.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <uapi/linux/ckpt.h>

#include "compat.h"

/*
 * Data bytes per CKPT_CMD_RECORD message: 14 pages, the most whose message,
 * first fragment with the largest meta nest included, still fits a 64 KiB
 * skb buffer (BUILD_BUG_ON in emit.c). A larger message takes a 128 KiB
 * allocation; with 8 pages half of every 64 KiB buffer went unused, and
 * with init_on_alloc (Debian's default) the page allocator zeroes all of
 * it: docs/benchmarks.md, "Fragment sizes".
 */
#define CKPT_FRAG_DATA		(14 * PAGE_SIZE)
#define CKPT_FRAG_PAGES		(CKPT_FRAG_DATA >> PAGE_SHIFT)
/*
 * A stream's message buffers and page-data pages, allocated by its work
 * with the requester's memory cgroup active (stream.c): charged there, and
 * failing with ENOMEM rather than invoking the OOM killer.
 */
#define CKPT_GFP_STREAM		(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)
#define CKPT_FRAG_BUF		(64 * 1024)

/*
 * The stream checksum (CRC-32C, raw update: no inversion). crc32c() runs
 * the CPU's instruction where it has one; the kernel's slice-by-8 table,
 * __crc32c_le(), computes the same value. Which of the two is faster is
 * timed at load (main.c): an emulator may run the instruction slower than
 * the table (qemu's TCG does, 4x).
 */
DECLARE_STATIC_KEY_FALSE(ckpt_crc_sliceby8);

static inline u32 ckpt_crc32c(u32 crc, const void *p, unsigned int len)
{
	if (static_branch_unlikely(&ckpt_crc_sliceby8))
		return __crc32c_le(crc, p, len);
	return crc32c(crc, p, len);
}

/*
 * __crc32c_le_shift(@crc, @len): @crc moved past @len zero bytes; one
 * multiplication for whole pages up to a fragment's (main.c).
 */
u32 ckpt_crc32c_shift(u32 crc, size_t len);

/*
 * GENL_REQ_ATTR_CHECK() reports the missing attribute's type in extack;
 * this adds the text every error of the family carries.
 */
#define CKPT_REQUIRE(info, attr) ({					\
	struct genl_info *__ckpt_info = (info);				\
	bool __missing = GENL_REQ_ATTR_CHECK(__ckpt_info, attr);		\
									\
	if (__missing)							\
		NL_SET_ERR_MSG(__ckpt_info->extack,				\
			       "missing required attribute " #attr);	\
	__missing;							\
})

/* Module parameters (main.c): the bounds on what one caller may hold. */
extern unsigned int ckpt_timeout_ms;
extern unsigned int ckpt_max_streams;
extern unsigned int ckpt_user_streams;
extern unsigned int ckpt_fdinfo_helpers;
extern unsigned int ckpt_restart_max_mib;
extern unsigned int ckpt_restart_user_mib;
extern unsigned int ckpt_restart_total_mib;
extern unsigned int ckpt_max_sessions;
extern unsigned int ckpt_user_sessions;
extern unsigned int ckpt_session_idle_ms;
extern unsigned int ckpt_hold_total_mib;

/* Streams run here; session expiry too. Drained at module exit. */
extern struct workqueue_struct *ckpt_wq;
/* Holding streams' drainers (emit.c): not ckpt_wq, which their streams wait on. */
extern struct workqueue_struct *ckpt_drain_wq;

/* Family-wide counters (main.c), reported by CKPT_CMD_STATS_GET. */
struct ckpt_stats {
	atomic64_t streams;
	atomic64_t records;
	atomic64_t bytes;
	atomic64_t aborts;
	atomic64_t wait_ns;
	atomic64_t restarts;
	atomic64_t restart_rejects;
	atomic64_t frag_pages_new;
	atomic64_t frag_pages_reused;
	atomic64_t held_bytes;
	atomic64_t hold_reserved;
};

extern struct ckpt_stats ckpt_stats;

/* Set first thing in module exit: streams abort at their next message. */
extern bool ckpt_unloading;

/*
 * Shared memory that no path reaches: a tmpfs object (shared anonymous
 * memory, memfd and SysV shm are files of the kernel's internal tmpfs
 * mount) whose dentry is unhashed, a pseudo file that never had a name or
 * a file unlinked since. A restorer cannot map it again by name, so its
 * pages are checkpointed from the object and a restart writes them into
 * the target's own such object. A named file's shared mapping is that file
 * (no pages); hugetlbfs shm is not tmpfs (no pages). Under the mmap lock.
 */
static inline bool ckpt_vma_anon_shmem(const struct vm_area_struct *vma)
{
	struct file *file = vma->vm_file;

	return (vma->vm_flags & VM_SHARED) && file &&
	       file_inode(file)->i_sb->s_magic == TMPFS_MAGIC &&
	       d_unhashed(file->f_path.dentry);
}

/*
 * The one rule for which mappings' pages are checkpointed and restored:
 * private (not VM_SHARED) or unnamed shared memory (ckpt_vma_anon_shmem()),
 * ordinary memory (not VM_IO, VM_PFNMAP or VM_MIXEDMAP), not armed by
 * userfaultfd (a restore write would fault into its handler), and not a
 * shadow stack (written only by the CPU; its contents are refused).
 * Writability does not matter to a checkpoint: relocated data that the
 * loader then made read-only (RELRO) differs from its file too; a restart
 * writes a shared mapping only where the target may write it (FOLL_FORCE
 * does not override a shared mapping's protection). Of a private file
 * mapping only the pages the process changed (anonymous, copied on write)
 * are taken: the rest is the file (ckpt_page_dumped()). Called under the
 * mm's mmap lock.
 */
static inline bool ckpt_vma_dumpable(const struct vm_area_struct *vma)
{
	return !(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP |
				  VM_SHADOW_STACK)) &&
	       (!(vma->vm_flags & VM_SHARED) || ckpt_vma_anon_shmem(vma)) &&
	       !userfaultfd_armed((struct vm_area_struct *)vma);
}

/* A private mapping of a file: a fault there may read the file (ckpt_write_range()). */
static inline bool ckpt_vma_private_file(const struct vm_area_struct *vma)
{
	return vma->vm_file && !(vma->vm_flags & VM_SHARED);
}

/* A page of a dumpable vma that the image must carry. */
static inline bool ckpt_page_dumped(bool file_vma, struct page *page)
{
	return !file_vma || PageAnon(page);
}

u64 ckpt_next_crid(void);
bool ckpt_host_admin(void);
int ckpt_limit(unsigned int all, unsigned int max, const char *max_name,
	       unsigned int mine, unsigned int user_max, const char *user_name,
	       unsigned int others, bool admin, struct netlink_ext_ack *extack);
u32 ckpt_next_rsid(void);

/*
 * One checkpoint or restart at a time per task: ckpt_claim() marks the
 * thread group busy (ERR_PTR(-EBUSY) if it already is), ckpt_release()
 * clears it.
 */
struct pid *ckpt_claim(struct task_struct *task);
void ckpt_release(struct pid *claim);

/* access.c */
struct task_struct *ckpt_get_target(struct genl_info *info, u32 pid_attr_nr,
				    bool zombie_ok);
bool ckpt_task_exiting(struct task_struct *task);
bool ckpt_task_zombie(struct task_struct *task);
bool ckpt_task_stopped(struct task_struct *task);
int ckpt_may_access(struct sk_buff *skb, struct task_struct *task,
		    struct netlink_ext_ack *extack);
int ckpt_cred_may_access(const struct cred *cred, struct task_struct *task);
#define CKPT_SINK_DENIED \
	"the capture sink's owner may not checkpoint this task (a stream only goes to a sink that could read the target)"
int ckpt_creds_may_access(const struct cred *cred, const struct cred *opener,
			  struct task_struct *task);

/*
 * Bounded lock waits (access.c): -EBUSY when the lock stayed taken until
 * @until (jiffies). A request waits at most CKPT_DOIT_WAIT_MS.
 */
#define CKPT_DOIT_WAIT_MS	100
static inline unsigned long ckpt_doit_until(void)
{
	return jiffies + msecs_to_jiffies(CKPT_DOIT_WAIT_MS);
}

#define CKPT_EXEC_BUSY \
	"the target's exec_update_lock stayed taken for 100 ms (an execve() or a reader of its /proc files): try again"
#define CKPT_MMAP_BUSY \
	"the target's memory map stayed locked for 100 ms (another task is reading or changing it): try again"

int ckpt_exec_lock(struct task_struct *task, unsigned long until);
int ckpt_mmap_read_lock(struct mm_struct *mm, unsigned long until);
int ckpt_mmap_write_lock(struct mm_struct *mm, unsigned long until);
int ckpt_mutex_lock(struct mutex *lock, unsigned long until);
int ckpt_pin_mm(struct sk_buff *skb, struct task_struct *task,
		const struct cred *sink_cred, struct mm_struct **mmp,
		u64 *exec_id, struct netlink_ext_ack *extack);
bool ckpt_same_image(struct task_struct *task, struct mm_struct *mm,
		     u64 exec_id);
int ckpt_with_task_stack(struct task_struct *t, struct mm_struct *mm,
			 unsigned long until,
			 int (*fn)(struct task_struct *t, void *arg), void *arg);
int ckpt_task_native(struct task_struct *task, struct mm_struct *mm,
		     struct netlink_ext_ack *extack);

/* sink.c: the per-netns capture sink. */
struct ckpt_sink {
	struct sock *sk;		/* the registered socket, held */
	u64 gen;			/* of the registration */
	const struct cred *cred;	/* of the task that registered it */
	struct pid *tgid;		/* that task's thread group */
};

int ckpt_sink_init(void);
void ckpt_sink_exit(void);
int ckpt_sink_get(struct net *net, struct ckpt_sink *sink,
		  struct netlink_ext_ack *extack);
void ckpt_sink_put(struct ckpt_sink *sink);
bool ckpt_sink_is(struct net *net, const struct ckpt_sink *sink);
int ckpt_sink_register(struct net *net, struct sk_buff *skb, u32 portid,
		       struct netlink_ext_ack *extack);
int ckpt_sink_unregister(struct net *net, u32 portid, struct netlink_ext_ack *extack);

/* emit.c: one stream to the sink. */
struct ckpt_rec {
	u32 type;
	u32 id;
	u32 parent;
	u64 data_len;
	u64 offset;		/* data bytes already sent */
};

/* A page-aligned address range [start, end) of a dirty-ranges request. */
struct ckpt_range {
	u64 start;
	u64 end;
};

struct ckpt_stream {
	struct list_head node;	/* in ckpt_streams (stream.c) */
	struct work_struct work;
	struct net *net;	/* the requester's, referenced */
	struct task_struct *task;	/* the target group leader, referenced */
	struct pid *claim;
	struct mm_struct *mm;	/* pinned (mmget) where access was checked */
	u64 exec_id;		/* task->self_exec_id at that moment */
	const struct cred *cred;	/* the requester's: ids in records */
	struct mem_cgroup *memcg;	/* the requester's: charged for the stream */
	struct pid_namespace *pid_ns;	/* the requester's: pids in records */
	struct ckpt_sink sink;	/* where the stream goes, held */
	struct sock *req_sk;	/* the requester's socket, held: checkpoint-done */
	u32 req_seq;		/* the request's nlmsg_seq */
	kuid_t uid;		/* the requester's, for the per-user cap */
	bool admin;		/* the requester is the host's (ckpt_host_admin()) */
	bool stop;		/* stop the task first, resume it after */
	u64 stopped_at;		/* ktime_get_ns() at our SIGSTOP */
	u64 frozen_ns;		/* from it to our SIGCONT (checkpoint-done) */
	bool holding;		/* messages go to held[] while the task is read */
	bool zombie;		/* the task is a zombie: ids and exit status only */
	/* await-go: read only after the requester's checkpoint-go (stream.c). */
	bool await_go;
	bool go;		/* given; set under ckpt_streams_lock */
	wait_queue_head_t go_wait;
	u32 flags;		/* the request's CKPT_CHECKPOINT_FLAGS_* */
	u64 parent_crid;	/* the pre-copy this one builds on, or 0 */
	struct ckpt_range *dirty;	/* with a parent: pages sent as data */
	u32 nr_dirty;
	unsigned long deadline;	/* jiffies: the whole stream ends by then */
	u64 crid;
	u32 seq;		/* of the next message */
	u32 last_id;		/* last record id handed out */
	u64 records;
	u64 bytes;
	u32 crc;		/* running CRC-32C, not yet inverted */
	spinlock_t abort_lock;	/* the first abort's reason, err and why */
	u32 reason;		/* enum ckpt_abort_reason once aborted, else 0 */
	int err;		/* errno of the abort */
	const char *why;	/* the abort's reason, for the sink and requester */
	u64 wait_ns;
	struct sk_buff *skb;	/* message being filled */
	void *hdr;
	struct nlattr *meta;
	void *data;		/* this message's data in its linear part */
	char *path;		/* PATH_MAX scratch for d_path() */
	struct page **pages;	/* CKPT_PAGES_RUN_MAX page pointers */
	struct page **ring;	/* page fragments' pages, ours (emit.c) */
	unsigned int ring_len;	/* pages in ring[] */
	unsigned int ring_max;	/* its size: the sink's buffer, bounded */
	unsigned int ring_next;	/* the oldest, once ring_len == ring_max */
	u64 ring_reused;	/* fragment pages taken back from the ring */
	u64 ring_new;		/* fragment pages allocated */
	/* Holding (emit.c): the drainer owns crc, bytes and held_bytes meanwhile. */
	struct work_struct drain;
	struct sk_buff_head held;	/* built, not yet delivered, in order */
	atomic_t held_nr;	/* in held[] or being delivered by the drainer */
	u64 held_bytes;		/* truesize delivered after being held */
	/* Pages allocated before the stop (ckpt_hold_reserve()), not yet used. */
	struct list_head reserve;	/* linked by page->lru */
	unsigned long reserve_nr;
	/* Shared with a second worker while it is made (ckpt_reserve_work()). */
	atomic_long_t reserve_todo;	/* pages not yet claimed */
	struct work_struct reserve_work;
	struct list_head reserve_helper;	/* the second worker's, linked by page->lru */
	unsigned long reserve_helper_nr;	/* pages on it */
	long hold_credit;	/* bytes of hold_total_mib taken for them */
	u64 reserved;		/* pages the reserve was made of */
};

/* precopy.c: which pages a checkpoint with a parent sends as data. */
int ckpt_dirty_parse(struct ckpt_stream *s, struct genl_info *info);
unsigned long ckpt_dirty_pages(const struct ckpt_stream *s);
unsigned long ckpt_dirty_span(const struct ckpt_stream *s, unsigned long addr,
			      unsigned long nr, bool *dirty);

int ckpt_stream_begin(struct ckpt_stream *s, u32 pid);
int ckpt_stream_end(struct ckpt_stream *s);
void ckpt_stream_abort(struct ckpt_stream *s, u32 reason, int err,
		       const char *why);
void ckpt_set_abort(struct ckpt_stream *s, u32 reason, int err,
		    const char *why);
int ckpt_stream_check(struct ckpt_stream *s);
void ckpt_drain_work(struct work_struct *work);
int ckpt_hold_drain(struct ckpt_stream *s);
void ckpt_reserve_work(struct work_struct *work);
void ckpt_hold_reserve(struct ckpt_stream *s);
void ckpt_hold_unreserve(struct ckpt_stream *s);
void ckpt_stream_done(struct ckpt_stream *s);
void ckpt_stream_read(struct ckpt_stream *s);
void ckpt_stream_reserved(struct ckpt_stream *s);
int ckpt_stream_go(struct sk_buff *skb, u64 crid, struct netlink_ext_ack *extack);
void ckpt_rec_init(struct ckpt_stream *s, struct ckpt_rec *rec, u32 type,
		   u32 parent, u64 data_len);
int ckpt_frag_begin(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len);
int ckpt_frag_begin_paged(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len);
int ckpt_meta_end(struct ckpt_stream *s);
void *ckpt_frag_data(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len);
int ckpt_frag_pages(struct ckpt_stream *s, struct ckpt_rec *rec,
		    struct page **src, unsigned int nr);
int ckpt_frag_send(struct ckpt_stream *s);
int ckpt_ring_alloc(struct ckpt_stream *s);
void ckpt_ring_free(struct ckpt_stream *s);
int ckpt_sock_queue(struct sock *sk, struct sk_buff *skb);

/* stream.c: admission, the producing work, limits, unload. */
int ckpt_stream_start(struct sk_buff *skb, struct genl_info *info,
		      struct task_struct *task, u32 flags, u32 timeout_ms);
int ckpt_stream_init(void);
void ckpt_stream_exit(void);

/* checkpoint.c: record producers. */
int ckpt_checkpoint_task(struct ckpt_stream *s, struct task_struct *task);
void ckpt_file_id_init(void);

/* fdinfo.c: an anonymous-inode descriptor's fdinfo text, read with a bound. */
bool ckpt_fdinfo_wanted(struct file *file);
int ckpt_fdinfo_read(struct ckpt_stream *s, struct file *file, char **text,
		     size_t *len);

/* unix.c: what a Unix socket is and holds, for its unix record. */
struct ckpt_unix {
	u32 type, state, flags, shutdown, sndbuf, rcvbuf;
	u32 backlog, queued;		/* a listener's */
	struct sockaddr_un addr, peer_addr;	/* names, when bound */
	u32 addr_len, peer_len;			/* 0: unbound */
	u64 peer_ino;
	u64 bytes;	/* queued, captured or not */
	u8 *data;	/* the messages as u32 length + bytes, or NULL */
	u32 data_len;
};

bool ckpt_is_unix(struct file *file);
int ckpt_unix_peek(struct file *file, struct ckpt_unix *u);

/* inet.c: what a TCP or UDP socket is, for its inet record. */
struct ckpt_inet {
	u32 family, type, protocol, state, flags, shutdown, backlog, queued;
	u32 sndbuf, rcvbuf;
	struct sockaddr_in6 addr, peer;	/* large enough for either family */
	u32 addr_len, peer_len;		/* 0: none */
};

bool ckpt_is_inet(struct file *file);
int ckpt_inet_peek(struct file *file, struct ckpt_inet *in);

/* restart.c */
int ckpt_restart_init(void);
void ckpt_restart_exit(void);
void ckpt_restart_release_port(struct net *net, u32 portid);

#endif /* _CKPT_INTERNAL_H */
