// SPDX-License-Identifier: GPL-2.0
/*
 * Restart: an image streamed back by the requester, validated fragment by
 * fragment against the protocol and against the target, staged in the
 * kernel, and written into the stopped target only at commit.
 *
 * A session belongs to the socket that began it (its net and port) and
 * ends with commit, abort, or that socket's close. It holds the target's
 * claim (no checkpoint or second restart of it meanwhile), a reference to
 * its mm, and the staged page data, at most restart_max_mib. The first
 * rejected message fails the session: the staged data and the claim are
 * dropped at once, and a tombstone answers later messages until the
 * requester aborts or closes.
 *
 * Restart trusts nothing in the image and never creates tasks, maps memory
 * or changes credentials or descriptors: it only writes page contents into
 * existing private writable mappings of a task the caller may checkpoint,
 * with access_process_vm(FOLL_FORCE | FOLL_WRITE), as a debugger would.
 */
#include <linux/crc32c.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <asm/user.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

#define ckpt_reject(extack, attr, fmt, args...) do {		\
	struct netlink_ext_ack *__ext = (extack);		\
								\
	NL_SET_ERR_MSG_FMT(__ext, fmt, ##args);			\
	NL_SET_BAD_ATTR(__ext, attr);				\
} while (0)

/* Page data of one pages record, written at commit. */
struct ckpt_stage {
	struct list_head node;
	unsigned long addr;
	size_t len;
	u8 *data;
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
	struct mm_struct *mm;

	/* Stream state, as a checkpoint sink would check it. */
	u32 seq;
	u32 last_id;
	struct ckpt_open open[CKPT_DEPTH_MAX];
	unsigned int depth;
	struct ckpt_rec cur;		/* record whose fragments are arriving */
	bool in_record;
	bool seen_task;
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

	struct list_head stages;
	struct ckpt_stage *stage;	/* of the current pages record */
	u64 staged;
};

static LIST_HEAD(ckpt_sessions);
static DEFINE_MUTEX(ckpt_sessions_lock);

#define M(x) BIT_ULL(CKPT_A_META_##x)

/* What each record type carries and where it sits in the tree. */
static const struct {
	u64 required;
	u64 optional;
	u32 parent_type;	/* 0: a root */
} ckpt_rules[] = {
	[CKPT_RECORD_TYPE_HEADER] = {
		M(ARCH) | M(PAGE_SIZE) | M(RELEASE) | M(TIME_NS), 0, 0 },
	[CKPT_RECORD_TYPE_TASK] = {
		M(PID) | M(TGID) | M(PPID) | M(COMM) | M(UID) | M(GID) |
		M(EUID) | M(EGID), 0, 0 },
	[CKPT_RECORD_TYPE_REGS] = { M(TID), 0, CKPT_RECORD_TYPE_TASK },
	[CKPT_RECORD_TYPE_MM] = {
		M(START_CODE) | M(END_CODE) | M(START_DATA) | M(END_DATA) |
		M(START_BRK) | M(BRK) | M(START_STACK) | M(ARG_START) |
		M(ARG_END) | M(ENV_START) | M(ENV_END), 0,
		CKPT_RECORD_TYPE_TASK },
	[CKPT_RECORD_TYPE_VMA] = {
		M(START) | M(END) | M(VM_FLAGS) | M(PGOFF), M(PATH),
		CKPT_RECORD_TYPE_MM },
	[CKPT_RECORD_TYPE_PAGES] = { M(ADDR) | M(NR_PAGES), 0,
		CKPT_RECORD_TYPE_VMA },
	[CKPT_RECORD_TYPE_FILE] = { M(FD) | M(F_FLAGS) | M(POS), M(PATH),
		CKPT_RECORD_TYPE_TASK },
	[CKPT_RECORD_TYPE_TRAILER] = {
		M(NR_THREADS) | M(NR_VMAS) | M(NR_PAGES_TOTAL) | M(NR_FILES),
		0, 0 },
};

/* Mapping bits that must agree between the image and the target. */
#define CKPT_VMA_MATCH_FLAGS	(VM_READ | VM_WRITE | VM_EXEC | VM_SHARED)

static void ckpt_session_drop_state(struct ckpt_session *sess)
{
	struct ckpt_stage *st, *tmp;

	list_for_each_entry_safe(st, tmp, &sess->stages, node) {
		list_del(&st->node);
		kvfree(st->data);
		kfree(st);
	}
	sess->stage = NULL;
	sess->staged = 0;
	if (sess->mm)
		mmput(sess->mm);
	sess->mm = NULL;
	if (sess->task) {
		ckpt_release(sess->claim);
		put_task_struct(sess->task);
	}
	sess->task = NULL;
	sess->claim = NULL;
}

static void ckpt_session_free(struct kref *ref)
{
	struct ckpt_session *sess = container_of(ref, struct ckpt_session, ref);

	ckpt_session_drop_state(sess);
	kfree(sess);
}

static void ckpt_session_put(struct ckpt_session *sess)
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

static void ckpt_session_unlink(struct ckpt_session *sess)
{
	lockdep_assert_held(&ckpt_sessions_lock);
	list_del(&sess->node);
	sess->dead = true;
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

static void ckpt_session_end(struct ckpt_session *sess)
{
	mutex_lock(&ckpt_sessions_lock);
	if (!sess->dead)
		ckpt_session_unlink(sess);
	mutex_unlock(&ckpt_sessions_lock);
}

int ckpt_nl_restart_begin_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct ckpt_session *sess;
	struct task_struct *task;
	struct sk_buff *msg;
	struct pid *claim;
	void *hdr;
	int err;

	if (CKPT_REQUIRE(info, CKPT_A_PID))
		return -EINVAL;
	task = ckpt_get_target(skb, info, CKPT_A_PID);
	if (IS_ERR(task))
		return PTR_ERR(task);
	err = ckpt_may_access(skb, task, info->extack);
	if (err)
		goto out_put;
	if (!ckpt_task_stopped(task)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
				    "the target task is not stopped");
		err = -EBUSY;
		goto out_put;
	}
	claim = ckpt_claim(task);
	if (IS_ERR(claim)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
				    "the task is already in a checkpoint or restart");
		err = PTR_ERR(claim);
		goto out_put;
	}

	err = -ENOMEM;
	sess = kzalloc(sizeof(*sess), GFP_KERNEL);
	msg = genlmsg_new(nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!sess || !msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for a restart session");
		goto out_release;
	}
	sess->mm = get_task_mm(task);
	if (!sess->mm) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
				    "the task has no address space");
		err = -ESRCH;
		goto out_release;
	}
	kref_init(&sess->ref);
	mutex_init(&sess->lock);
	write_pnet(&sess->net, genl_info_net(info));
	sess->portid = info->snd_portid;
	sess->rsid = ckpt_next_rsid();
	if (info->attrs[CKPT_A_RESTART_FLAGS])
		sess->flags = nla_get_u32(info->attrs[CKPT_A_RESTART_FLAGS]);
	sess->task = task;
	sess->claim = claim;
	sess->crc = ~0U;
	INIT_LIST_HEAD(&sess->stages);

	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_RESTART_BEGIN);
	if (WARN_ON_ONCE(!hdr || nla_put_u32(msg, CKPT_A_RSID, sess->rsid))) {
		NL_SET_ERR_MSG(info->extack, "reply too large");
		err = -EMSGSIZE;
		goto out_mm;
	}
	genlmsg_end(msg, hdr);

	mutex_lock(&ckpt_sessions_lock);
	list_add(&sess->node, &ckpt_sessions);
	mutex_unlock(&ckpt_sessions_lock);
	return genlmsg_reply(msg, info);

out_mm:
	mmput(sess->mm);
out_release:
	kfree(sess);
	nlmsg_free(msg);
	ckpt_release(claim);
out_put:
	put_task_struct(task);
	return err;
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
		buf = kmalloc(PATH_MAX, GFP_KERNEL);
		if (!buf) {
			NL_SET_ERR_MSG(info->extack, "no memory to compare paths");
			return -ENOMEM;
		}
	}

	mmap_read_lock(sess->mm);
	vma = find_vma(sess->mm, start);
	if (!vma || vma->vm_start != start || vma->vm_end != end) {
		what = "no target mapping with the same range";
	} else if ((vma->vm_flags ^ flags) & CKPT_VMA_MATCH_FLAGS) {
		what = "protection or sharing differs";
	} else if (vma->vm_pgoff != nla_get_u64(meta[CKPT_A_META_PGOFF])) {
		what = "file offset differs";
	} else if (!!vma->vm_file != !!path_attr) {
		what = "file backing differs";
	} else if (path_attr) {
		path = d_path(&vma->vm_file->f_path, buf, PATH_MAX);
		if (IS_ERR(path) || strcmp(path, nla_data(path_attr)))
			what = "backing file path differs";
	}
	if (!what)
		sess->vma_dumped = (vma->vm_flags & (VM_WRITE | VM_SHARED)) ==
				   VM_WRITE &&
				   !(vma->vm_flags & (VM_IO | VM_PFNMAP));
	mmap_read_unlock(sess->mm);
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

static int ckpt_check_pages(struct ckpt_session *sess, struct nlattr **meta,
			    struct genl_info *info, u32 id, u64 data_len)
{
	u64 addr = nla_get_u64(meta[CKPT_A_META_ADDR]);
	u32 nr = nla_get_u32(meta[CKPT_A_META_NR_PAGES]);
	u64 len = (u64)nr << PAGE_SHIFT;
	struct ckpt_stage *st;

	if (data_len != len) {
		ckpt_reject(info->extack, info->attrs[CKPT_A_DATA_LEN],
			    "record %u: data-len %llu is not nr-pages %u pages",
			    id, data_len, nr);
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(addr) || addr < sess->pages_next ||
	    addr + len > sess->vma_end) {
		ckpt_reject(info->extack, meta[CKPT_A_META_ADDR],
			    "record %u: pages %llx+%u are unaligned, overlap or lie outside their vma",
			    id, addr, nr);
		return -EINVAL;
	}
	if (!sess->vma_dumped) {
		ckpt_reject(info->extack, meta[CKPT_A_META_ADDR],
			    "record %u: pages in a vma that is not private and writable",
			    id);
		return -EINVAL;
	}
	if (sess->staged + len > (u64)READ_ONCE(ckpt_restart_max_mib) << 20) {
		ckpt_reject(info->extack, meta[CKPT_A_META_NR_PAGES],
			    "record %u: image exceeds restart_max_mib (%u MiB)",
			    id, ckpt_restart_max_mib);
		return -ENOSPC;
	}

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (st)
		st->data = kvmalloc(len, GFP_KERNEL);
	if (!st || !st->data) {
		kfree(st);
		NL_SET_ERR_MSG(info->extack, "no memory to stage page data");
		return -ENOMEM;
	}
	st->addr = addr;
	st->len = len;
	list_add_tail(&st->node, &sess->stages);
	sess->stage = st;
	sess->staged += len;
	sess->pages_next = addr + len;
	sess->nr_pages += nr;
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
			   u32 type, u32 id, u64 data_len)
{
	struct nlattr *meta[CKPT_A_META_MAX + 1];
	struct nlattr *nest = info->attrs[CKPT_A_META];
	u64 have = 0, req = ckpt_rules[type].required;
	u64 allowed = req | ckpt_rules[type].optional;
	int i, err;

	err = nla_parse_nested(meta, CKPT_A_META_MAX, nest, ckpt_meta_nl_policy,
			       info->extack);
	if (err)
		return err;
	for (i = 1; i <= CKPT_A_META_MAX; i++)
		if (meta[i] && i != CKPT_A_META_PAD)
			have |= BIT_ULL(i);
	if ((have & req) != req) {
		ckpt_reject(info->extack, nest, "record %u: meta lacks fields %#llx",
			    id, req & ~have);
		return -EINVAL;
	}
	if (have & ~allowed) {
		ckpt_reject(info->extack, nest,
			    "record %u: meta has fields of another type %#llx",
			    id, have & ~allowed);
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
	case CKPT_RECORD_TYPE_FILE:
		sess->nr_files++;
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
	if (data_len && type != CKPT_RECORD_TYPE_REGS &&
	    type != CKPT_RECORD_TYPE_PAGES) {
		ckpt_reject(info->extack, tb[CKPT_A_DATA_LEN],
			    "record %u: record type %u carries no data", id, type);
		return -EINVAL;
	}
	sess->open[depth].id = id;
	sess->open[depth].type = type;
	sess->depth = depth + 1;
	sess->last_id = id;
	sess->stage = NULL;
	return ckpt_check_meta(sess, info, type, id, data_len);
}

static int ckpt_restart_record(struct ckpt_session *sess,
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
		sess->crc = crc32c(sess->crc, nla_data(tb[CKPT_A_META]),
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
		if (sess->stage)
			memcpy(sess->stage->data + offset, nla_data(data), len);
		sess->crc = crc32c(sess->crc, nla_data(data), len);
		sess->bytes += len;
		sess->cur.offset += len;
	}
	sess->in_record = sess->cur.offset < sess->cur.data_len;
	sess->seq++;
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
	if (sess->failed) {
		NL_SET_ERR_MSG_FMT(info->extack, "the restart session failed earlier: %s",
				   sess->failed);
		err = -EINVAL;
		goto out;
	}
	err = ckpt_restart_record(sess, info);
	if (err)
		ckpt_session_fail(sess, "a record was rejected");
out:
	ckpt_session_unlock(sess);
	return err;
}

/* Every staged range still inside a private writable mapping. */
static int ckpt_recheck_stages(struct ckpt_session *sess,
			       struct netlink_ext_ack *extack)
{
	struct vm_area_struct *vma;
	struct ckpt_stage *st;
	int err = 0;

	mmap_read_lock(sess->mm);
	list_for_each_entry(st, &sess->stages, node) {
		vma = find_vma(sess->mm, st->addr);
		if (!vma || vma->vm_start > st->addr ||
		    vma->vm_end < st->addr + st->len ||
		    (vma->vm_flags & (VM_WRITE | VM_SHARED)) != VM_WRITE) {
			NL_SET_ERR_MSG_FMT(extack,
					   "pages at %lx no longer lie in a private writable mapping",
					   st->addr);
			err = -EINVAL;
			break;
		}
	}
	mmap_read_unlock(sess->mm);
	return err;
}

static int ckpt_write_stages(struct ckpt_session *sess,
			     struct netlink_ext_ack *extack)
{
	struct ckpt_stage *st;
	int n;

	list_for_each_entry(st, &sess->stages, node) {
		n = access_process_vm(sess->task, st->addr, st->data, st->len,
				      FOLL_FORCE | FOLL_WRITE);
		if (n != st->len) {
			NL_SET_ERR_MSG_FMT(extack,
					   "writing pages at %lx failed after earlier pages were written",
					   st->addr);
			return -EFAULT;
		}
	}
	return 0;
}

static int ckpt_restart_commit(struct ckpt_session *sess,
			       struct genl_info *info)
{
	struct nlattr **tb = info->attrs;
	int err;

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
	if (sess->flags & CKPT_RESTART_FLAGS_VALIDATE_ONLY)
		return 0;
	err = ckpt_recheck_stages(sess, info->extack);
	if (err)
		return err;
	return ckpt_write_stages(sess, info->extack);
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
	msg = genlmsg_new(2 * nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	sess = ckpt_session_get(info);
	if (!sess) {
		nlmsg_free(msg);
		return -ENOENT;
	}
	if (sess->failed) {
		NL_SET_ERR_MSG_FMT(info->extack, "the restart session failed earlier: %s",
				   sess->failed);
		err = -EINVAL;
		goto out_free;
	}
	err = ckpt_restart_commit(sess, info);
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
	atomic64_inc(&ckpt_stats.restarts);
	ckpt_session_end(sess);
	ckpt_session_unlock(sess);
	return genlmsg_reply(msg, info);

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
