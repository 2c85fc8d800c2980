// SPDX-License-Identifier: GPL-2.0
/*
 * Restart: an image streamed back by the requester, validated fragment by
 * fragment against the protocol and against the target, staged in the
 * kernel, and written into the stopped target only at commit (or, direct,
 * as each fragment validated) by the session's writer (writer.c): no
 * request waits on the target.
 *
 * A session belongs to the socket that began it (its net and port) and
 * ends when its writer finished the commit, with abort, that socket's
 * close, or session_idle_ms without a request while the writer is idle.
 * It holds the target's claim (no checkpoint or second restart of it
 * meanwhile), the target's mm by mmgrab() (not mmget(): a target that dies
 * frees its memory at once; each use takes mmget_not_zero()), and the
 * staged page data. Staging (and what a direct session has queued for the
 * writer) is charged to the caller's memory cgroup (GFP_KERNEL_ACCOUNT)
 * and bounded per session (restart_max_mib), per uid (restart_user_mib)
 * and in all (restart_total_mib); sessions are bounded per uid
 * (user_sessions) and in all (max_sessions). The first rejected message
 * fails the session: the staged data and the claim are dropped at once
 * (once the writer stopped, if it runs), and a tombstone answers later
 * messages until the requester aborts or closes. A request waits for the
 * target's locks at most CKPT_DOIT_WAIT_MS (the vma check), then fails
 * with EBUSY.
 *
 * Restart trusts nothing in the image and never creates tasks, maps memory
 * or changes credentials or descriptors: it only writes page contents into
 * existing private mappings, or unnamed shared memory the task may write
 * (ckpt_vma_dumpable()), of a task the caller may checkpoint. The writer
 * takes the target's exec_update_lock, checks that the task still runs the
 * image whose mm was pinned when access was checked and checks access
 * again (the beginner's credentials; each request checks its sender's),
 * and writes through that pinned mm, each run under one mmap lock hold
 * with its vma checked: never through task->mm, which after an exec is
 * another program's.
 */
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/overflow.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <asm/user.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "ckpt-nl-gen.h"
#include "restart.h"

#define ckpt_reject(extack, attr, fmt, args...) do {		\
	struct netlink_ext_ack *__ext = (extack);		\
								\
	NL_SET_ERR_MSG_FMT(__ext, fmt, ##args);			\
	NL_SET_BAD_ATTR(__ext, attr);				\
} while (0)

static LIST_HEAD(ckpt_sessions);
static DEFINE_MUTEX(ckpt_sessions_lock);
static unsigned int ckpt_nr_sessions;	/* under ckpt_sessions_lock */

/*
 * A record type's meta fields as two words: M() names the first 64
 * attributes (bit i of lo), H() the ones after (bit i - 64 of hi).
 */
#define M(x) BIT_ULL(CKPT_A_META_##x)
#define H(x) BIT_ULL(CKPT_A_META_##x - 64)
static_assert(CKPT_A_META_NR_QUEUED == 63 && CKPT_A_META_MAX < 128);

struct ckpt_fields {
	u64 lo, hi;
};

/* The optional fields of vma and file records: the path and the file's identity. */
#define CKPT_FILE_IDENTITY (M(PATH) | M(INO) | M(DEV) | M(SIZE) | M(MTIME_NS))
/* The optional fields of regs records (absent in images of older modules). */
#define CKPT_THREAD_STATE (M(SIGMASK) | M(RSEQ) | M(RSEQ_LEN) | M(RSEQ_SIG) | \
			   M(ROBUST_LIST) | M(CLEAR_CHILD_TID) | M(SIGPENDING) | \
			   M(ALTSTACK_SP) | M(ALTSTACK_SIZE) | M(ALTSTACK_FLAGS))

/* What each record type carries and where it sits in the tree. */
static const struct {
	struct ckpt_fields required;
	struct ckpt_fields optional;
	u32 parent_type;	/* 0: a root */
	bool data;		/* may carry data */
} ckpt_rules[] = {
	[CKPT_RECORD_TYPE_HEADER] = {
		{ M(ARCH) | M(PAGE_SIZE) | M(RELEASE) | M(TIME_NS) },
		{ 0, H(PARENT_CRID) | H(CHECKPOINT_FLAGS) }, 0 },
	[CKPT_RECORD_TYPE_TASK] = {
		{ M(PID) | M(TGID) | M(PPID) | M(COMM) | M(UID) | M(GID) |
		  M(EUID) | M(EGID) },
		{ M(CWD) | M(UMASK), H(PERSONALITY) | H(ROOT) | H(PGID) | H(SID) }, 0 },
	[CKPT_RECORD_TYPE_REGS] = { { M(TID) }, { CKPT_THREAD_STATE },
		CKPT_RECORD_TYPE_TASK, true },
	[CKPT_RECORD_TYPE_MM] = {
		{ M(START_CODE) | M(END_CODE) | M(START_DATA) | M(END_DATA) |
		  M(START_BRK) | M(BRK) | M(START_STACK) | M(ARG_START) |
		  M(ARG_END) | M(ENV_START) | M(ENV_END) }, { 0, H(DUMPABLE) },
		CKPT_RECORD_TYPE_TASK },
	[CKPT_RECORD_TYPE_VMA] = {
		{ M(START) | M(END) | M(VM_FLAGS) | M(PGOFF) },
		{ CKPT_FILE_IDENTITY }, CKPT_RECORD_TYPE_MM },
	[CKPT_RECORD_TYPE_PAGES] = { { M(ADDR) | M(NR_PAGES) }, {},
		CKPT_RECORD_TYPE_VMA, true },
	[CKPT_RECORD_TYPE_FILE] = { { M(FD) | M(F_FLAGS) | M(POS) },
		{ CKPT_FILE_IDENTITY, H(FILE_ID) }, CKPT_RECORD_TYPE_TASK },
	[CKPT_RECORD_TYPE_TRAILER] = {
		{ M(NR_THREADS) | M(NR_VMAS) | M(NR_PAGES_TOTAL) | M(NR_FILES) },
		{}, 0 },
	[CKPT_RECORD_TYPE_SIGACTIONS] = { { M(NR_SIGS) },
		{ M(SHARED_PENDING) }, CKPT_RECORD_TYPE_TASK, true },
	[CKPT_RECORD_TYPE_RLIMITS] = { { M(NR_RLIMITS) }, {},
		CKPT_RECORD_TYPE_TASK, true },
	[CKPT_RECORD_TYPE_PIPE] = { { M(PIPE_SIZE) | M(PIPE_BYTES) }, {},
		CKPT_RECORD_TYPE_FILE, true },
	[CKPT_RECORD_TYPE_SIGINFO] = { { M(NR_SIGINFO) | M(NR_QUEUED) }, {},
		CKPT_RECORD_TYPE_REGS, true },
	[CKPT_RECORD_TYPE_SHARED_SIGINFO] = {
		{ M(NR_SIGINFO) | M(NR_QUEUED) }, {},
		CKPT_RECORD_TYPE_SIGACTIONS, true },
	[CKPT_RECORD_TYPE_XSTATE] = { { M(XFEATURES) }, {},
		CKPT_RECORD_TYPE_REGS, true },
	[CKPT_RECORD_TYPE_SHMEM] = { { M(INO) | M(SIZE) }, { 0, H(SEALS) },
		CKPT_RECORD_TYPE_VMA },
	[CKPT_RECORD_TYPE_FDINFO] = { {}, {}, CKPT_RECORD_TYPE_FILE, true },
	[CKPT_RECORD_TYPE_UNIX] = {
		{ 0, H(SOCK_TYPE) | H(SOCK_STATE) | H(SOCK_FLAGS) | H(PEER_INO) |
		     H(SOCK_SHUTDOWN) | H(SOCK_BYTES) | H(SNDBUF) | H(RCVBUF) },
		{ 0, H(SOCK_ADDR) | H(SOCK_PEER_ADDR) | H(SOCK_BACKLOG) | H(SOCK_QUEUED) },
		CKPT_RECORD_TYPE_FILE, true },
	[CKPT_RECORD_TYPE_INET] = {
		{ 0, H(SOCK_FAMILY) | H(SOCK_TYPE) | H(SOCK_PROTOCOL) | H(SOCK_STATE) |
		     H(SOCK_FLAGS) | H(SOCK_SHUTDOWN) | H(SOCK_BACKLOG) |
		     H(SOCK_QUEUED) | H(SNDBUF) | H(RCVBUF) },
		{ 0, H(SOCK_ADDR) | H(SOCK_PEER_ADDR) }, CKPT_RECORD_TYPE_FILE },
	/* Refused by ckpt_check_meta(): a restorer sends the parent's pages. */
	[CKPT_RECORD_TYPE_PARENT_PAGES] = { { M(ADDR) | M(NR_PAGES) }, {},
		CKPT_RECORD_TYPE_VMA },
};

/* An XSAVE area: the 512-byte legacy area and the 64-byte XSAVE header. */
#define CKPT_XSTATE_MIN	576

/* Mapping bits that must agree between the image and the target. */
#define CKPT_VMA_MATCH_FLAGS	(VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)

void ckpt_stage_free(struct ckpt_session *sess, struct ckpt_stage *st)
{
	/* A direct session's stages are all queued ones, the others staged. */
	atomic64_sub(st->len, sess->flags & CKPT_RESTART_FLAGS_DIRECT ?
		     &sess->queued : &sess->staged);
	kvfree(st->data);
	kfree(st);
}

void ckpt_stages_free(struct ckpt_session *sess, struct list_head *stages)
{
	struct ckpt_stage *st, *tmp;

	list_for_each_entry_safe(st, tmp, stages, node) {
		list_del(&st->node);
		ckpt_stage_free(sess, st);
	}
}

/* What the writer uses: dropped by it, or when it is not running. */
void ckpt_session_drop_target(struct ckpt_session *sess)
{
	ckpt_stages_free(sess, &sess->queue);
	kvfree(sess->pages);
	sess->pages = NULL;
	if (sess->mm)
		mmdrop(sess->mm);
	sess->mm = NULL;
	if (sess->claim)
		ckpt_release(sess->claim);
	if (sess->task)
		put_task_struct(sess->task);
	sess->task = NULL;
	sess->claim = NULL;
}

/*
 * A stage for @len bytes of page data at @addr, charged to the caller;
 * past its cgroup's limit it fails (no OOM kill, no splat). The data is
 * a second allocation: @len is whole pages, and the stage's header in
 * front of them would round kvmalloc()'s kmalloc attempt up to the next
 * order (a 16 MiB record would take, and be charged, 32 MiB).
 */
static struct ckpt_stage *ckpt_stage_new(unsigned long addr, size_t len)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	struct ckpt_stage *st;

	st = kzalloc(sizeof(*st), gfp);
	if (!st)
		return NULL;
	st->data = kvmalloc(len, gfp);
	if (!st->data) {
		kfree(st);
		return NULL;
	}
	st->addr = addr;
	st->len = len;
	return st;
}

/* Under sess->lock, or once no request can run. */
static void ckpt_session_drop_state(struct ckpt_session *sess)
{
	ckpt_stages_free(sess, &sess->stages);
	sess->stage = NULL;
	if (!ckpt_writer_defer_drop(sess))
		ckpt_session_drop_target(sess);
}

static void ckpt_session_free(struct kref *ref)
{
	struct ckpt_session *sess = container_of(ref, struct ckpt_session, ref);

	ckpt_session_drop_state(sess);
	if (sess->sk)
		sock_put(sess->sk);
	if (sess->cred)
		put_cred(sess->cred);
	if (sess->opener)
		put_cred(sess->opener);
	kfree(sess);
}

void ckpt_session_put(struct ckpt_session *sess)
{
	kref_put(&sess->ref, ckpt_session_free);
}

/* Marks the session failed: staged data and the target's claim go now. */
static void ckpt_session_fail(struct ckpt_session *sess, const char *why)
{
	sess->failed = why;
	ckpt_session_drop_state(sess);
	atomic64_inc(&ckpt_stats.restart_rejects);
}

/*
 * (Re)arms the idle timer; a newly pending timer holds a reference. Under
 * ckpt_sessions_lock, on a session still listed: ckpt_session_unlink()
 * cancels the timer under the same lock, so none is armed after it.
 */
static void ckpt_session_touch(struct ckpt_session *sess)
{
	unsigned long idle = msecs_to_jiffies(READ_ONCE(ckpt_session_idle_ms));

	lockdep_assert_held(&ckpt_sessions_lock);
	kref_get(&sess->ref);
	if (mod_delayed_work(ckpt_wq, &sess->expire, idle))
		ckpt_session_put(sess);	/* was pending: it has one already */
}

static void ckpt_session_unlink(struct ckpt_session *sess)
{
	lockdep_assert_held(&ckpt_sessions_lock);
	list_del(&sess->node);
	ckpt_nr_sessions--;
	sess->dead = true;
	/* A pending expiry holds a reference: take it back with the timer. */
	if (cancel_delayed_work(&sess->expire))
		ckpt_session_put(sess);
	ckpt_session_put(sess);
}

static void ckpt_session_expire(struct work_struct *work)
{
	struct ckpt_session *sess = container_of(to_delayed_work(work),
						 struct ckpt_session, expire);

	mutex_lock(&ckpt_sessions_lock);
	/* Not idle while its writer works: the requester waits for it. */
	if (!sess->dead && READ_ONCE(sess->writing))
		ckpt_session_touch(sess);
	else if (!sess->dead)
		ckpt_session_unlink(sess);
	mutex_unlock(&ckpt_sessions_lock);
	ckpt_session_put(sess);
}

/*
 * The live session @CKPT_A_RSID of the requesting socket, referenced and
 * locked; NULL (extack set) if there is none.
 */
static struct ckpt_session *ckpt_session_get(struct genl_info *info)
{
	struct nlattr *attr = info->attrs[CKPT_A_RSID];
	u32 rsid = nla_get_u32(attr);
	struct ckpt_session *sess, *found = NULL;

	mutex_lock(&ckpt_sessions_lock);
	list_for_each_entry(sess, &ckpt_sessions, node) {
		if (sess->rsid == rsid && sess->portid == info->snd_portid &&
		    net_eq(read_pnet(&sess->net), genl_info_net(info))) {
			found = sess;
			kref_get(&found->ref);
			ckpt_session_touch(found);
			break;
		}
	}
	mutex_unlock(&ckpt_sessions_lock);
	if (!found) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no such restart session on this socket");
		return NULL;
	}
	mutex_lock(&found->lock);
	if (found->dead) {
		mutex_unlock(&found->lock);
		ckpt_session_put(found);
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "the restart session has ended");
		return NULL;
	}
	return found;
}

static void ckpt_session_unlock(struct ckpt_session *sess)
{
	mutex_unlock(&sess->lock);
	ckpt_session_put(sess);
}

void ckpt_session_end(struct ckpt_session *sess)
{
	mutex_lock(&ckpt_sessions_lock);
	if (!sess->dead)
		ckpt_session_unlink(sess);
	mutex_unlock(&ckpt_sessions_lock);
}

/* Adds @sess to the list unless a session limit is reached. */
static int ckpt_session_add(struct ckpt_session *sess,
			    struct netlink_ext_ack *extack)
{
	unsigned int mine = 0, others = 0;
	struct ckpt_session *o;
	int err = 0;

	mutex_lock(&ckpt_sessions_lock);
	list_for_each_entry(o, &ckpt_sessions, node) {
		mine += uid_eq(o->uid, sess->uid);
		others += !o->admin;
	}
	err = ckpt_limit(ckpt_nr_sessions, READ_ONCE(ckpt_max_sessions), "max_sessions",
			 mine, READ_ONCE(ckpt_user_sessions), "user_sessions",
			 others, sess->admin, extack);
	if (!err) {
		list_add(&sess->node, &ckpt_sessions);
		ckpt_nr_sessions++;
		ckpt_session_touch(sess);
	}
	mutex_unlock(&ckpt_sessions_lock);
	return err;
}

/* Access, a pinned mm, a native and stopped task, and its claim. */
static int ckpt_session_target(struct ckpt_session *sess, struct sk_buff *skb,
			       struct genl_info *info)
{
	struct nlattr *pid_attr = info->attrs[CKPT_A_PID];
	struct task_struct *task = sess->task;
	struct mm_struct *mm;
	struct pid *claim;
	int err;

	err = ckpt_pin_mm(skb, task, NULL, &mm, &sess->exec_id, info->extack);
	if (err)
		return err;
	err = ckpt_task_native(task, mm, info->extack);
	if (!err && !ckpt_task_stopped(task)) {
		NL_SET_ERR_MSG_ATTR(info->extack, pid_attr, "the target task is not stopped");
		err = -EBUSY;
	}
	/* Keep the mm_struct, not the address space: see the top of the file. */
	mmgrab(mm);
	mmput(mm);
	sess->mm = mm;
	if (err)
		return err;
	claim = ckpt_claim(task);
	if (IS_ERR(claim)) {
		NL_SET_ERR_MSG_ATTR(info->extack, pid_attr,
				    "the task is already in a checkpoint or restart");
		return PTR_ERR(claim);
	}
	sess->claim = claim;
	return 0;
}

int ckpt_nl_restart_begin_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ckpt_session *sess;
	struct task_struct *task;
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (CKPT_REQUIRE(info, CKPT_A_PID))
		return -EINVAL;
	task = ckpt_get_target(info, CKPT_A_PID, false);
	if (IS_ERR(task))
		return PTR_ERR(task);

	sess = kzalloc(sizeof(*sess), GFP_KERNEL_ACCOUNT);
	if (!sess) {
		put_task_struct(task);
		NL_SET_ERR_MSG(info->extack, "no memory for a restart session");
		return -ENOMEM;
	}
	kref_init(&sess->ref);
	mutex_init(&sess->lock);
	INIT_LIST_HEAD(&sess->node);
	INIT_LIST_HEAD(&sess->stages);
	INIT_DELAYED_WORK(&sess->expire, ckpt_session_expire);
	ckpt_writer_init(sess);
	atomic64_set(&sess->staged, 0);
	atomic64_set(&sess->queued, 0);
	sess->task = task;
	sess->uid = current_uid();
	sess->admin = ckpt_host_admin();
	/*
	 * Who began it, as netlink_ns_capable() and the ptrace check see
	 * them: the writer checks access with these.
	 */
	sess->cred = get_current_cred();
	sess->sk = NETLINK_CB(skb).sk;
	sock_hold(sess->sk);
	sess->opener = get_cred(sess->sk->sk_socket->file->f_cred);
	write_pnet(&sess->net, genl_info_net(info));
	sess->portid = info->snd_portid;
	sess->crc = ~0U;
	if (info->attrs[CKPT_A_RESTART_FLAGS])
		sess->flags = nla_get_u32(info->attrs[CKPT_A_RESTART_FLAGS]);
	if (!(sess->flags & CKPT_RESTART_FLAGS_VALIDATE_ONLY)) {
		sess->pages = kvmalloc_array(CKPT_PAGES_RUN_MAX, sizeof(*sess->pages),
					     GFP_KERNEL_ACCOUNT);
		if (!sess->pages) {
			ckpt_session_put(sess);
			NL_SET_ERR_MSG(info->extack, "no memory for a restart session");
			return -ENOMEM;
		}
	}

	err = ckpt_session_target(sess, skb, info);
	if (err)
		goto out_put;
	msg = genlmsg_new(2 * nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for a restart session");
		err = -ENOMEM;
		goto out_put;
	}
	sess->rsid = ckpt_next_rsid();
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_RESTART_BEGIN);
	/* The flags say a session writer answers (restart-written, restart-done). */
	if (WARN_ON_ONCE(!hdr || nla_put_u32(msg, CKPT_A_RSID, sess->rsid) ||
			 nla_put_u32(msg, CKPT_A_RESTART_FLAGS, sess->flags))) {
		NL_SET_ERR_MSG(info->extack, "reply too large");
		err = -EMSGSIZE;
		goto out_free_msg;
	}
	genlmsg_end(msg, hdr);
	err = ckpt_session_add(sess, info->extack);
	if (err)
		goto out_free_msg;
	return genlmsg_reply(msg, info);

out_free_msg:
	nlmsg_free(msg);
out_put:
	ckpt_session_put(sess);	/* drops the mm, the claim and the task */
	return err;
}

/* d_path()'s " (deleted)": a file unlinked, or a pseudo file never named. */
static bool ckpt_unnamed_path(const struct nlattr *path)
{
	static const char deleted[] = " (deleted)";
	size_t len = strnlen(nla_data(path), nla_len(path));

	return len >= sizeof(deleted) - 1 &&
	       !memcmp((char *)nla_data(path) + len - (sizeof(deleted) - 1),
		       deleted, sizeof(deleted) - 1);
}

/* The target's mapping at [start, end) must be the image's vma. */
static int ckpt_check_vma(struct ckpt_session *sess, struct nlattr **meta,
			  struct genl_info *info, u32 id)
{
	u64 start = nla_get_u64(meta[CKPT_A_META_START]);
	u64 end = nla_get_u64(meta[CKPT_A_META_END]);
	u64 flags = nla_get_u64(meta[CKPT_A_META_VM_FLAGS]);
	struct nlattr *path_attr = meta[CKPT_A_META_PATH];
	struct vm_area_struct *vma;
	const char *what = NULL;
	char *buf = NULL, *path;

	if (start >= end || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) ||
	    end > TASK_SIZE_MAX) {
		ckpt_reject(info->extack, meta[CKPT_A_META_START],
			    "record %u: vma %llx-%llx is not a page-aligned user range",
			    id, start, end);
		return -EINVAL;
	}
	if (path_attr) {
		buf = kmalloc(PATH_MAX, GFP_KERNEL_ACCOUNT);
		if (!buf) {
			NL_SET_ERR_MSG(info->extack, "no memory to compare paths");
			return -ENOMEM;
		}
	}

	if (!mmget_not_zero(sess->mm)) {
		kfree(buf);
		NL_SET_ERR_MSG(info->extack, "the target exited");
		return -ESRCH;
	}
	/*
	 * The image's vma must lie inside one target mapping: the same range,
	 * or part of one the target's kernel merged from the image's adjacent
	 * areas (a new process has one anon_vma where the old one had two).
	 */
	if (ckpt_mmap_read_lock(sess->mm, ckpt_doit_until())) {
		mmput(sess->mm);
		kfree(buf);
		NL_SET_ERR_MSG(info->extack, CKPT_MMAP_BUSY);
		return -EBUSY;
	}
	vma = find_vma(sess->mm, start);
	if (!vma || vma->vm_start > start || vma->vm_end < end) {
		what = "no target mapping covers the range";
	} else if ((vma->vm_flags ^ flags) & CKPT_VMA_MATCH_FLAGS) {
		what = "protection or sharing differs";
	} else if (vma->vm_file &&
		   vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT) !=
		   nla_get_u64(meta[CKPT_A_META_PGOFF])) {
		/* Anonymous vm_pgoff is bookkeeping (a moved stack keeps its own). */
		what = "file offset differs";
	} else if (!!vma->vm_file != !!path_attr) {
		what = "file backing differs";
	} else if (ckpt_vma_anon_shmem(vma)) {
		/* Another object than the image's, which no path reaches either. */
		if (!ckpt_unnamed_path(path_attr))
			what = "the image's file has a name, the target's shared memory none";
	} else if (path_attr) {
		path = d_path(&vma->vm_file->f_path, buf, PATH_MAX);
		if (IS_ERR(path) || strcmp(path, nla_data(path_attr)))
			what = "backing file path differs";
		else if (meta[CKPT_A_META_INO] &&
			 nla_get_u64(meta[CKPT_A_META_INO]) != file_inode(vma->vm_file)->i_ino)
			what = "backing file is another inode";
	}
	if (!what) {
		sess->vma_dumped = ckpt_vma_dumpable(vma);
		sess->vma_shmem = ckpt_vma_anon_shmem(vma);
	}
	mmap_read_unlock(sess->mm);
	mmput(sess->mm);
	kfree(buf);

	if (what) {
		ckpt_reject(info->extack, meta[CKPT_A_META_START],
			    "record %u: vma %llx-%llx: %s", id, start, end, what);
		return -EINVAL;
	}
	sess->vma_start = start;
	sess->vma_end = end;
	sess->pages_next = start;
	return 0;
}

/* What all sessions, and @uid's, have staged. Under ckpt_sessions_lock. */
static void ckpt_staged_totals(kuid_t uid, u64 *all, u64 *users)
{
	struct ckpt_session *o;

	lockdep_assert_held(&ckpt_sessions_lock);
	*all = 0;
	*users = 0;
	list_for_each_entry(o, &ckpt_sessions, node) {
		u64 n = atomic64_read(&o->staged);

		*all += n;
		if (uid_eq(o->uid, uid))
			*users += n;
	}
}

/* @len more bytes fit the session's, the uid's and the global caps. */
static int ckpt_stage_fits(struct ckpt_session *sess, u64 len,
			   struct genl_info *info, struct nlattr *attr, u32 id)
{
	u64 all, users;
	int err = 0;

	if (atomic64_read(&sess->staged) + len >
	    (u64)READ_ONCE(ckpt_restart_max_mib) << 20) {
		ckpt_reject(info->extack, attr,
			    "record %u: image exceeds restart_max_mib (%u MiB)",
			    id, ckpt_restart_max_mib);
		return -ENOSPC;
	}
	mutex_lock(&ckpt_sessions_lock);
	ckpt_staged_totals(sess->uid, &all, &users);
	if (users + len > (u64)READ_ONCE(ckpt_restart_user_mib) << 20) {
		ckpt_reject(info->extack, attr,
			    "record %u: this user's sessions exceed restart_user_mib (%u MiB)",
			    id, ckpt_restart_user_mib);
		err = -ENOSPC;
	} else if (all + len > (u64)READ_ONCE(ckpt_restart_total_mib) << 20) {
		ckpt_reject(info->extack, attr,
			    "record %u: all sessions exceed restart_total_mib (%u MiB)",
			    id, ckpt_restart_total_mib);
		err = -ENOSPC;
	} else {
		atomic64_add(len, &sess->staged);
	}
	mutex_unlock(&ckpt_sessions_lock);
	return err;
}

static int ckpt_check_pages(struct ckpt_session *sess, struct nlattr **meta,
			    struct genl_info *info, u32 id, u64 data_len)
{
	u64 addr = nla_get_u64(meta[CKPT_A_META_ADDR]);
	u32 nr = nla_get_u32(meta[CKPT_A_META_NR_PAGES]);
	u64 len = (u64)nr << PAGE_SHIFT, last;
	struct ckpt_stage *st;
	int err;

	if (data_len != len) {
		ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
			    "record %u: data-len %llu is not nr-pages %u pages",
			    id, data_len, nr);
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(addr) || addr < sess->pages_next ||
	    check_add_overflow(addr, len, &last) || last > sess->vma_end) {
		ckpt_reject(info->extack, meta[CKPT_A_META_ADDR],
			    "record %u: pages at %llx (%u) outside their vma",
			    id, addr, nr);
		return -EINVAL;
	}
	if (!sess->vma_dumped) {
		ckpt_reject(info->extack, meta[CKPT_A_META_ADDR],
			    "record %u: pages in a vma a restart does not write",
			    id);
		return -EINVAL;
	}
	sess->run_addr = addr;
	sess->pages_next = last;
	sess->nr_pages += nr;
	if (sess->flags & CKPT_RESTART_FLAGS_DIRECT)
		return 0;	/* queued fragment by fragment (or, validate-only, not at all) */
	err = ckpt_stage_fits(sess, len, info, meta[CKPT_A_META_NR_PAGES], id);
	if (err)
		return err;

	st = ckpt_stage_new(addr, len);
	if (!st) {
		atomic64_sub(len, &sess->staged);	/* counted by ckpt_stage_fits() */
		NL_SET_ERR_MSG(info->extack, "no memory to stage page data");
		return -ENOMEM;
	}
	list_add_tail(&st->node, &sess->stages);
	sess->stage = st;
	return 0;
}

static int ckpt_check_trailer(struct ckpt_session *sess, struct nlattr **meta,
			      struct genl_info *info, u32 id)
{
	if (nla_get_u32(meta[CKPT_A_META_NR_THREADS]) != sess->nr_threads ||
	    nla_get_u32(meta[CKPT_A_META_NR_VMAS]) != sess->nr_vmas ||
	    nla_get_u64(meta[CKPT_A_META_NR_PAGES_TOTAL]) != sess->nr_pages ||
	    nla_get_u32(meta[CKPT_A_META_NR_FILES]) != sess->nr_files) {
		ckpt_reject(info->extack, info->attrs[CKPT_A_META],
			    "record %u: trailer counts differ from the records",
			    id);
		return -EINVAL;
	}
	sess->seen_trailer = true;
	return 0;
}

/* Meta of a record's first fragment: exactly its type's fields. */
static int ckpt_check_meta(struct ckpt_session *sess, struct genl_info *info,
			   u32 type, u32 id, u32 parent, u64 data_len)
{
	struct nlattr *meta[CKPT_A_META_MAX + 1];
	struct nlattr *nest = info->attrs[CKPT_A_META];
	struct ckpt_fields req = ckpt_rules[type].required, have = {};
	struct ckpt_fields allowed = {
		req.lo | ckpt_rules[type].optional.lo,
		req.hi | ckpt_rules[type].optional.hi,
	};
	int i, err;

	err = nla_parse_nested(meta, CKPT_A_META_MAX, nest, ckpt_meta_nl_policy,
			       info->extack);
	if (err)
		return err;
	for (i = 1; i <= CKPT_A_META_MAX; i++) {
		if (!meta[i] || i == CKPT_A_META_PAD)
			continue;
		if (i < 64)
			have.lo |= BIT_ULL(i);
		else
			have.hi |= BIT_ULL(i - 64);
	}
	/* The messages name a field as its attribute number. */
	if ((have.lo & req.lo) != req.lo || (have.hi & req.hi) != req.hi) {
		i = (have.lo & req.lo) != req.lo ? __ffs64(req.lo & ~have.lo) :
						    64 + __ffs64(req.hi & ~have.hi);
		ckpt_reject(info->extack, nest, "record %u: meta lacks field %d",
			    id, i);
		return -EINVAL;
	}
	if ((have.lo & ~allowed.lo) || (have.hi & ~allowed.hi)) {
		i = have.lo & ~allowed.lo ? __ffs64(have.lo & ~allowed.lo) :
					    64 + __ffs64(have.hi & ~allowed.hi);
		ckpt_reject(info->extack, nest,
			    "record %u: meta has field %d of another type", id, i);
		return -EINVAL;
	}

	switch (type) {
	case CKPT_RECORD_TYPE_HEADER:
		if (strcmp(nla_data(meta[CKPT_A_META_ARCH]), init_utsname()->machine)) {
			ckpt_reject(info->extack, meta[CKPT_A_META_ARCH],
				    "record %u: image arch is not this machine's (%s)",
				    id, init_utsname()->machine);
			return -EINVAL;
		}
		if (nla_get_u32(meta[CKPT_A_META_PAGE_SIZE]) != PAGE_SIZE) {
			ckpt_reject(info->extack, meta[CKPT_A_META_PAGE_SIZE],
				    "record %u: image page size is not %lu", id,
				    PAGE_SIZE);
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_TASK:
		if (sess->seen_task) {
			ckpt_reject(info->extack, nest, "record %u: a second task record", id);
			return -EINVAL;
		}
		sess->seen_task = true;
		return 0;
	case CKPT_RECORD_TYPE_REGS:
		sess->nr_threads++;
		if (data_len != sizeof(struct user_regs_struct)) {
			ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
				    "record %u: regs data-len must be %zu", id,
				    sizeof(struct user_regs_struct));
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_VMA:
		sess->nr_vmas++;
		return ckpt_check_vma(sess, meta, info, id);
	case CKPT_RECORD_TYPE_PAGES:
		return ckpt_check_pages(sess, meta, info, id, data_len);
	case CKPT_RECORD_TYPE_PARENT_PAGES:
		ckpt_reject(info->extack, info->attrs[CKPT_A_REC_TYPE],
			    "record %u: parent-pages: send the parent's pages instead",
			    id);
		return -EINVAL;
	case CKPT_RECORD_TYPE_FILE:
		sess->nr_files++;
		return 0;
	case CKPT_RECORD_TYPE_SIGACTIONS:
		/*
		 * Shape only: the restorer sets them with rt_sigaction(2),
		 * which checks each as it would the process's own call.
		 */
		if (sess->seen_sigactions ||
		    nla_get_u32(meta[CKPT_A_META_NR_SIGS]) != _NSIG ||
		    data_len != (u64)_NSIG * CKPT_SIGACTION_SIZE) {
			ckpt_reject(info->extack, nest,
				    "record %u: one sigactions record of %u entries", id, _NSIG);
			return -EINVAL;
		}
		sess->seen_sigactions = true;
		return 0;
	case CKPT_RECORD_TYPE_RLIMITS:
		/* Shape only, likewise: the restorer calls prlimit(2). */
		if (sess->seen_rlimits ||
		    nla_get_u32(meta[CKPT_A_META_NR_RLIMITS]) != RLIM_NLIMITS ||
		    data_len != (u64)RLIM_NLIMITS * CKPT_RLIMIT_SIZE) {
			ckpt_reject(info->extack, nest,
				    "record %u: one rlimits record of %u entries", id,
				    RLIM_NLIMITS);
			return -EINVAL;
		}
		sess->seen_rlimits = true;
		return 0;
	case CKPT_RECORD_TYPE_SIGINFO:
	case CKPT_RECORD_TYPE_SHARED_SIGINFO: {
		/*
		 * Shape only, one per parent; the restorer queues the entries
		 * with rt_tgsigqueueinfo(2), which checks them.
		 */
		u32 n = nla_get_u32(meta[CKPT_A_META_NR_SIGINFO]);

		if (!n || n > nla_get_u32(meta[CKPT_A_META_NR_QUEUED]) ||
		    data_len != (u64)n * CKPT_SIGINFO_SIZE || sess->siginfo_of == parent) {
			ckpt_reject(info->extack, nest, "record %u: bad siginfo record", id);
			return -EINVAL;
		}
		sess->siginfo_of = parent;
		return 0;
	}
	case CKPT_RECORD_TYPE_PIPE:
		/* The restorer writes the bytes into the pipe it makes. */
		if (data_len > CKPT_PIPE_DATA_MAX ||
		    (data_len && data_len != nla_get_u32(meta[CKPT_A_META_PIPE_BYTES]))) {
			ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
				    "record %u: pipe data-len %llu, pipe-bytes %u, at most %u",
				    id, data_len, nla_get_u32(meta[CKPT_A_META_PIPE_BYTES]),
				    CKPT_PIPE_DATA_MAX);
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_XSTATE:
		/* Applied by the restorer through ptrace, which checks the layout. */
		if (data_len < CKPT_XSTATE_MIN || data_len > CKPT_XSTATE_MAX) {
			ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
				    "record %u: xstate data-len %llu outside %u..%u", id,
				    data_len, CKPT_XSTATE_MIN, CKPT_XSTATE_MAX);
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_FDINFO:
		/* Text for the restorer, whose calls check what it asks for. */
		if (data_len > CKPT_FDINFO_MAX) {
			ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
				    "record %u: fdinfo data-len %llu above %u", id,
				    data_len, CKPT_FDINFO_MAX);
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_UNIX: {
		/*
		 * Messages for the restorer, which sends them through a new
		 * socket; a name for its bind(2), which checks it.
		 */
		u32 type = nla_get_u32(meta[CKPT_A_META_SOCK_TYPE]);
		const struct nlattr *names[] = { meta[CKPT_A_META_SOCK_ADDR],
						 meta[CKPT_A_META_SOCK_PEER_ADDR] };
		const struct nlattr *a;
		unsigned int i;

		if ((type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) ||
		    data_len > CKPT_UNIX_DATA_MAX) {
			ckpt_reject(info->extack, nest,
				    "record %u: unix socket type %u, data-len %llu (at most %u)",
				    id, type, data_len, CKPT_UNIX_DATA_MAX);
			return -EINVAL;
		}
		for (i = 0; i < ARRAY_SIZE(names); i++) {
			a = names[i];
			if (a && (nla_len(a) <= offsetof(struct sockaddr_un, sun_path) + 1 ||
				  nla_len(a) > sizeof(struct sockaddr_un) ||
				  nla_get_u16(a) != AF_UNIX)) {
				ckpt_reject(info->extack, a,
					    "record %u: unix address of %d bytes (AF_UNIX, 3 to %zu)",
					    id, nla_len(a), sizeof(struct sockaddr_un));
				return -EINVAL;
			}
		}
		return 0;
	}
	case CKPT_RECORD_TYPE_INET: {
		/* For the restorer, whose bind(2) and connect(2) check the addresses. */
		u32 family = nla_get_u32(meta[CKPT_A_META_SOCK_FAMILY]);
		u32 type = nla_get_u32(meta[CKPT_A_META_SOCK_TYPE]);
		u32 proto = nla_get_u32(meta[CKPT_A_META_SOCK_PROTOCOL]);
		const struct nlattr *a = meta[CKPT_A_META_SOCK_ADDR];
		const struct nlattr *p = meta[CKPT_A_META_SOCK_PEER_ADDR];

		if ((family != AF_INET && family != AF_INET6) ||
		    !((type == SOCK_STREAM && proto == IPPROTO_TCP) ||
		      (type == SOCK_DGRAM && proto == IPPROTO_UDP))) {
			ckpt_reject(info->extack, nest,
				    "record %u: inet family %u type %u protocol %u",
				    id, family, type, proto);
			return -EINVAL;
		}
		if ((a && nla_len(a) > sizeof(struct sockaddr_in6)) ||
		    (p && nla_len(p) > sizeof(struct sockaddr_in6))) {
			ckpt_reject(info->extack, a && nla_len(a) > sizeof(struct sockaddr_in6) ? a : p,
				    "record %u: inet address longer than %zu bytes",
				    id, sizeof(struct sockaddr_in6));
			return -EINVAL;
		}
		return 0;
	}
	case CKPT_RECORD_TYPE_SHMEM:
		/* The restorer made the object; the pages that follow fill it. */
		if (!sess->vma_shmem) {
			ckpt_reject(info->extack, nest,
				    "record %u: shared memory for a target mapping that is not",
				    id);
			return -EINVAL;
		}
		return 0;
	case CKPT_RECORD_TYPE_TRAILER:
		return ckpt_check_trailer(sess, meta, info, id);
	}
	return 0;
}

/* A record's first fragment: id, place in the tree, data length, meta. */
static int ckpt_check_first(struct ckpt_session *sess, struct genl_info *info,
			    u32 type, u32 id, u32 parent, u64 data_len)
{
	bool is_header = type == CKPT_RECORD_TYPE_HEADER;
	struct nlattr **tb = info->attrs;
	unsigned int i, depth;

	if (id <= sess->last_id) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_ID],
			    "record id %u is not above the previous %u", id,
			    sess->last_id);
		return -EINVAL;
	}
	if (!tb[CKPT_A_META]) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_ID],
			    "record %u: first fragment without meta", id);
		return -EINVAL;
	}
	if (sess->seen_trailer || !sess->last_id != is_header) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_TYPE],
			    "record %u: the header must come first and only first, the trailer last",
			    id);
		return -EINVAL;
	}

	/* The parent must be open: on the stack of the depth-first walk. */
	if (!parent) {
		depth = 0;
	} else {
		for (i = 0; i < sess->depth; i++)
			if (sess->open[i].id == parent)
				break;
		if (i == sess->depth) {
			ckpt_reject(info->extack, tb[CKPT_A_REC_PARENT],
				    "record %u: parent %u is not open", id, parent);
			return -EINVAL;
		}
		depth = i + 1;
	}
	if (depth >= CKPT_DEPTH_MAX) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_PARENT],
			    "record %u: nesting deeper than %u", id, CKPT_DEPTH_MAX);
		return -EINVAL;
	}
	if ((depth ? sess->open[depth - 1].type : 0) != ckpt_rules[type].parent_type) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_PARENT],
			    "record %u: a record of type %u cannot have parent %u",
			    id, type, parent);
		return -EINVAL;
	}
	if (data_len && !ckpt_rules[type].data) {
		ckpt_reject(info->extack, tb[CKPT_A_DATA_LEN],
			    "record %u: record type %u carries no data", id, type);
		return -EINVAL;
	}
	sess->open[depth].id = id;
	sess->open[depth].type = type;
	sess->depth = depth + 1;
	sess->last_id = id;
	sess->stage = NULL;
	return ckpt_check_meta(sess, info, type, id, parent, data_len);
}

/*
 * Every range of @stages still inside a mapping ckpt_vma_dumpable()
 * accepts. The writer's, under the target's exec_update_lock.
 */
int ckpt_recheck_stages(struct ckpt_session *sess, struct list_head *stages,
			unsigned long until)
{
	struct vm_area_struct *vma;
	struct ckpt_stage *st;
	int err;

	err = ckpt_mmap_read_lock(sess->mm, until);
	if (err)
		return err;
	list_for_each_entry(st, stages, node) {
		vma = find_vma(sess->mm, st->addr);
		if (!vma || vma->vm_start > st->addr ||
		    vma->vm_end < st->addr + st->len || !ckpt_vma_dumpable(vma)) {
			err = -EINVAL;
			break;
		}
	}
	mmap_read_unlock(sess->mm);
	return err;
}

/*
 * Writes [addr, addr + len) of the pinned mm from @src: in one mmap lock
 * hold (waited for until @until) the vma is checked again and the pages
 * are taken for writing (breaking COW, as a debugger's write does) and
 * filled. The range spans at most CKPT_PAGES_RUN_MAX pages, @pages has
 * room for that many pointers. The writer's (writer.c).
 *
 * In a private mapping of a file (not shared memory) it faults nothing
 * in (FOLL_NOFAULT): such a fault may read the file, and a FUSE daemon can
 * keep that read, uninterruptibly once it has the request, for as long as
 * it likes. So the pages there must already be the process's own copies,
 * present and writable by a forced write (an anonymous page not shared):
 * the restorer makes them so first, in its own process, by writing the
 * range through /proc/PID/mem. Anything else is refused (-EFAULT, *@why).
 * Other faults read no file system: anonymous memory, or shared memory,
 * which comes back from swap at most.
 */
int ckpt_write_range(struct mm_struct *mm, unsigned long addr, const u8 *src,
		     size_t len, struct page **pages, unsigned long until,
		     const char **why)
{
	unsigned long first = addr & PAGE_MASK, off = addr - first;
	unsigned long nr = (PAGE_ALIGN(addr + len) - first) >> PAGE_SHIFT;
	unsigned int gup_flags = FOLL_WRITE | FOLL_FORCE;
	struct vm_area_struct *vma;
	long got, i;
	size_t n;
	int err;

	if (WARN_ON_ONCE(nr > CKPT_PAGES_RUN_MAX))
		return -EINVAL;
	err = ckpt_mmap_read_lock(mm, until);
	if (err)
		return err;
	vma = find_vma(mm, addr);
	if (!vma || vma->vm_start > addr || vma->vm_end < addr + len ||
	    !ckpt_vma_dumpable(vma)) {
		mmap_read_unlock(mm);
		return -EINVAL;
	}
	if (ckpt_vma_private_file(vma))
		gup_flags |= FOLL_NOFAULT;
	got = ckpt_gup_remote(mm, first, nr, gup_flags, pages);
	if (got != nr) {
		err = got < 0 ? got : -EFAULT;
		if (err == -EFAULT && (gup_flags & FOLL_NOFAULT))
			*why = "not the process's own copy yet (the writer reads no file)";
	}
	for (i = 0; i < got; i++) {
		if (!err) {
			u8 *dst = kmap_local_page(pages[i]);

			n = min_t(size_t, PAGE_SIZE - off, len);
			copy_to_user_page(vma, pages[i], first + i * PAGE_SIZE + off,
					  dst + off, src, n);
			kunmap_local(dst);
			set_page_dirty_lock(pages[i]);
			src += n;
			len -= n;
			off = 0;
		}
		put_page(pages[i]);
	}
	mmap_read_unlock(mm);
	return err;
}

/*
 * CKPT_RESTART_FLAGS_DIRECT: one fragment's data, copied and queued for
 * the writer; at most CKPT_RESTART_QUEUE_MAX bytes until they are written
 * (the staging caps do not apply: what a direct session holds is this).
 * Copied, not kept in the request's skb: that is freed when the doit
 * returns, and is not charged to the requester as the copy is.
 */
static int ckpt_queue_direct(struct ckpt_session *sess, struct sk_buff *skb,
			     struct genl_info *info, u64 addr, const u8 *src,
			     u32 len)
{
	struct ckpt_stage *st;
	int err;

	/* This request's sender too: the writer checks the session's beginner. */
	err = ckpt_may_access(skb, sess->task, info->extack);
	if (err)
		return err;
	if (atomic64_read(&sess->queued) + len > CKPT_RESTART_QUEUE_MAX) {
		ckpt_reject(info->extack, info->attrs[CKPT_A_DATA],
			    "record %u: over %u bytes queued (wait for restart-written)",
			    sess->cur.id, CKPT_RESTART_QUEUE_MAX);
		return -ENOSPC;
	}
	st = ckpt_stage_new(addr, len);
	if (!st) {
		NL_SET_ERR_MSG(info->extack, "no memory to queue page data");
		return -ENOMEM;
	}
	atomic64_add(len, &sess->queued);
	memcpy(st->data, src, len);
	st->seq = sess->seq;
	ckpt_writer_queue(sess, st);
	return 0;
}

static int ckpt_restart_record(struct ckpt_session *sess, struct sk_buff *skb,
			       struct genl_info *info)
{
	struct nlattr **tb = info->attrs;
	u32 type = nla_get_u32(tb[CKPT_A_REC_TYPE]);
	u32 id = nla_get_u32(tb[CKPT_A_REC_ID]);
	u32 parent = nla_get_u32(tb[CKPT_A_REC_PARENT]);
	u64 data_len = nla_get_u64(tb[CKPT_A_DATA_LEN]);
	u64 offset = nla_get_u64(tb[CKPT_A_DATA_OFFSET]);
	struct nlattr *data = tb[CKPT_A_DATA];
	u32 len = data ? nla_len(data) : 0;
	int err;

	if (nla_get_u32(tb[CKPT_A_SEQ]) != sess->seq) {
		ckpt_reject(info->extack, tb[CKPT_A_SEQ],
			    "sequence %u, expected %u", nla_get_u32(tb[CKPT_A_SEQ]),
			    sess->seq);
		return -EINVAL;
	}
	if (type == CKPT_RECORD_TYPE_UNSPEC) {
		ckpt_reject(info->extack, tb[CKPT_A_REC_TYPE],
			    "record %u: record type 0 is never valid", id);
		return -EINVAL;
	}

	if (sess->in_record) {
		struct ckpt_rec *cur = &sess->cur;

		if (type != cur->type || id != cur->id || parent != cur->parent ||
		    data_len != cur->data_len || offset != cur->offset ||
		    tb[CKPT_A_META]) {
			ckpt_reject(info->extack, tb[CKPT_A_REC_ID],
				    "record %u: expected the fragment of record %u at offset %llu",
				    id, cur->id, cur->offset);
			return -EINVAL;
		}
	} else {
		if (offset) {
			ckpt_reject(info->extack, tb[CKPT_A_DATA_OFFSET],
				    "record %u: first fragment at offset %llu", id, offset);
			return -EINVAL;
		}
		err = ckpt_check_first(sess, info, type, id, parent, data_len);
		if (err)
			return err;
		sess->records++;
		sess->crc = ckpt_crc32c(sess->crc, nla_data(tb[CKPT_A_META]),
					nla_len(tb[CKPT_A_META]));
		sess->bytes += nla_len(tb[CKPT_A_META]);
		sess->cur = (struct ckpt_rec){ .type = type, .id = id,
			.parent = parent, .data_len = data_len };
	}

	if (!data_len != !data || offset + len > data_len ||
	    (data && !len)) {
		ckpt_reject(info->extack, data ?: tb[CKPT_A_DATA_LEN],
			    "record %u: data of %u bytes at offset %llu does not fit data-len %llu",
			    id, len, offset, data_len);
		return -EINVAL;
	}
	if (len) {
		if (sess->stage) {
			memcpy(sess->stage->data + offset, nla_data(data), len);
		} else if (type == CKPT_RECORD_TYPE_PAGES &&
			   (sess->flags & CKPT_RESTART_FLAGS_DIRECT) &&
			   !(sess->flags & CKPT_RESTART_FLAGS_VALIDATE_ONLY)) {
			err = ckpt_queue_direct(sess, skb, info, sess->run_addr + offset,
						nla_data(data), len);
			if (err)
				return err;
		}
		sess->crc = ckpt_crc32c(sess->crc, nla_data(data), len);
		sess->bytes += len;
		sess->cur.offset += len;
	}
	sess->in_record = sess->cur.offset < sess->cur.data_len;
	sess->seq++;
	return 0;
}

/* The session takes records and a commit: it has not failed and is not committed. */
static int ckpt_session_open(struct ckpt_session *sess, struct genl_info *info)
{
	if (sess->failed) {
		NL_SET_ERR_MSG_FMT(info->extack, "the restart session failed earlier: %s",
				   sess->failed);
		return -EINVAL;
	}
	if (sess->committed) {
		NL_SET_ERR_MSG(info->extack, "the restart session is committed: restart-done ends it");
		return -EBUSY;
	}
	return 0;
}

int ckpt_nl_restart_record_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ckpt_session *sess;
	int err;

	if (CKPT_REQUIRE(info, CKPT_A_RSID) ||
	    CKPT_REQUIRE(info, CKPT_A_SEQ) ||
	    CKPT_REQUIRE(info, CKPT_A_REC_TYPE) ||
	    CKPT_REQUIRE(info, CKPT_A_REC_ID) ||
	    CKPT_REQUIRE(info, CKPT_A_REC_PARENT) ||
	    CKPT_REQUIRE(info, CKPT_A_DATA_LEN) ||
	    CKPT_REQUIRE(info, CKPT_A_DATA_OFFSET))
		return -EINVAL;
	sess = ckpt_session_get(info);
	if (!sess)
		return -ENOENT;
	err = ckpt_session_open(sess, info);
	if (err)
		goto out;
	err = ckpt_restart_record(sess, skb, info);
	if (err)
		ckpt_session_fail(sess, "a record was rejected");
out:
	ckpt_session_unlock(sess);
	return err;
}

static int ckpt_restart_commit(struct ckpt_session *sess, struct sk_buff *skb,
			       struct genl_info *info)
{
	struct nlattr **tb = info->attrs;

	if (nla_get_u32(tb[CKPT_A_SEQ]) != sess->seq) {
		ckpt_reject(info->extack, tb[CKPT_A_SEQ], "sequence %u, expected %u",
			    nla_get_u32(tb[CKPT_A_SEQ]), sess->seq);
		return -EINVAL;
	}
	if (sess->in_record || !sess->seen_trailer) {
		NL_SET_ERR_MSG(info->extack, "the image is incomplete: no trailer yet");
		return -EINVAL;
	}
	if (nla_get_u64(tb[CKPT_A_RECORDS]) != sess->records) {
		ckpt_reject(info->extack, tb[CKPT_A_RECORDS],
			    "record count differs: %llu received", sess->records);
		return -EINVAL;
	}
	if (nla_get_u64(tb[CKPT_A_BYTES]) != sess->bytes) {
		ckpt_reject(info->extack, tb[CKPT_A_BYTES],
			    "byte count differs: %llu received", sess->bytes);
		return -EINVAL;
	}
	if (nla_get_u32(tb[CKPT_A_CHECKSUM]) != ~sess->crc) {
		ckpt_reject(info->extack, tb[CKPT_A_CHECKSUM],
			    "checksum differs: %08x received", ~sess->crc);
		return -EINVAL;
	}
	if (!ckpt_task_stopped(sess->task)) {
		NL_SET_ERR_MSG(info->extack, "the target task is no longer stopped");
		return -EBUSY;
	}
	/* An exec since begin, said as such (the writer checks it under the lock). */
	if (READ_ONCE(sess->task->self_exec_id) != sess->exec_id) {
		NL_SET_ERR_MSG(info->extack,
			       "the target called execve() since the session began: its memory is another program's");
		return -EACCES;
	}
	/* This request's sender; the writer checks the beginner's, under the lock. */
	return ckpt_may_access(skb, sess->task, info->extack);
}

int ckpt_nl_restart_commit_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ckpt_session *sess;
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (CKPT_REQUIRE(info, CKPT_A_RSID) ||
	    CKPT_REQUIRE(info, CKPT_A_SEQ) ||
	    CKPT_REQUIRE(info, CKPT_A_RECORDS) ||
	    CKPT_REQUIRE(info, CKPT_A_BYTES) ||
	    CKPT_REQUIRE(info, CKPT_A_CHECKSUM))
		return -EINVAL;
	msg = genlmsg_new(2 * nla_total_size_64bit(sizeof(u64)), GFP_KERNEL_ACCOUNT);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	sess = ckpt_session_get(info);
	if (!sess) {
		nlmsg_free(msg);
		return -ENOENT;
	}
	err = ckpt_session_open(sess, info);
	if (err)
		goto out_free;
	err = ckpt_restart_commit(sess, skb, info);
	if (err) {
		ckpt_session_fail(sess, "the commit was rejected");
		goto out_free;
	}
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_RESTART_COMMIT);
	if (WARN_ON_ONCE(!hdr ||
			 nla_put_u64_64bit(msg, CKPT_A_RECORDS, sess->records, CKPT_A_PAD) ||
			 nla_put_u64_64bit(msg, CKPT_A_BYTES, sess->bytes, CKPT_A_PAD))) {
		NL_SET_ERR_MSG(info->extack, "reply too large");
		err = -EMSGSIZE;
		goto out_free;
	}
	genlmsg_end(msg, hdr);
	/* The reply first: restart-done, which the writer sends, comes after it. */
	err = genlmsg_reply(msg, info);
	if (err) {
		NL_SET_ERR_MSG(info->extack, "the commit's reply could not be queued");
		ckpt_session_fail(sess, "the commit's reply could not be queued");
	} else {
		ckpt_writer_commit(sess, info->snd_seq);
	}
	ckpt_session_unlock(sess);
	return err;

out_free:
	ckpt_session_unlock(sess);
	nlmsg_free(msg);
	return err;
}

int ckpt_nl_restart_abort_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ckpt_session *sess;

	if (CKPT_REQUIRE(info, CKPT_A_RSID))
		return -EINVAL;
	sess = ckpt_session_get(info);
	if (!sess)
		return -ENOENT;
	ckpt_session_end(sess);
	ckpt_session_unlock(sess);
	return 0;
}

/* The socket @portid of @net closed: its sessions end. */
void ckpt_restart_release_port(struct net *net, u32 portid)
{
	struct ckpt_session *sess, *tmp;

	mutex_lock(&ckpt_sessions_lock);
	list_for_each_entry_safe(sess, tmp, &ckpt_sessions, node)
		if (sess->portid == portid && net_eq(read_pnet(&sess->net), net))
			ckpt_session_unlink(sess);
	mutex_unlock(&ckpt_sessions_lock);
}

int ckpt_restart_init(void)
{
	/* Every record type the policy admits has a rule (no read past the table). */
	BUILD_BUG_ON(ARRAY_SIZE(ckpt_rules) != CKPT_RECORD_TYPE_INET + 1);
	return 0;
}

/* After the family is gone no request runs: free what is left. */
void ckpt_restart_exit(void)
{
	struct ckpt_session *sess, *tmp;

	mutex_lock(&ckpt_sessions_lock);
	list_for_each_entry_safe(sess, tmp, &ckpt_sessions, node)
		ckpt_session_unlink(sess);
	mutex_unlock(&ckpt_sessions_lock);
}
