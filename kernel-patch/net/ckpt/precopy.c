// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy: a checkpoint that builds on an earlier one. The requester
 * takes a pre-copy of the running task (CKPT_CHECKPOINT_FLAGS_PRE_COPY,
 * memory only) after resetting its soft-dirty bits (/proc/PID/clear_refs),
 * stops the task, reads which pages were written since (/proc/PID/pagemap)
 * and asks for the final checkpoint with those ranges: present pages in
 * them are sent as data, the others as parent-pages records that point at
 * the pre-copy. The task is then stopped only for what changed.
 *
 * The ranges only choose between "data" and "the parent holds it": they
 * widen no access (the requester may read every page either way) and the
 * kernel does not check them against the page tables, which a module
 * cannot walk to the pte. They are validated for shape here, copied into
 * memory charged to the requester (at most CKPT_DIRTY_RANGES_MAX of them)
 * and looked up by binary search for each run of pages.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "internal.h"

#define CKPT_RANGE_SIZE	(2 * sizeof(__le64))

/* Parses and checks CKPT_A_DIRTY_RANGES into s->dirty (NULL when absent). */
int ckpt_dirty_parse(struct ckpt_stream *s, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[CKPT_A_DIRTY_RANGES];
	bool parent = info->attrs[CKPT_A_PARENT_CRID];
	const u8 *raw;
	__le64 pair[2];
	u32 i, n;

	if (!attr && !parent)
		return 0;
	if (!attr || !parent) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr ?: info->attrs[CKPT_A_PARENT_CRID],
				    "parent-crid and dirty-ranges go together");
		return -EINVAL;
	}
	if (s->flags & CKPT_CHECKPOINT_FLAGS_PRE_COPY) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "a pre-copy has no parent: it is one");
		return -EINVAL;
	}
	if (nla_len(attr) % CKPT_RANGE_SIZE ||
	    nla_len(attr) / CKPT_RANGE_SIZE > CKPT_DIRTY_RANGES_MAX) {
		NL_SET_ERR_MSG_FMT(info->extack, "dirty-ranges: 16-byte ranges, at most %u",
				   CKPT_DIRTY_RANGES_MAX);
		NL_SET_BAD_ATTR(info->extack, attr);
		return -EINVAL;
	}
	n = nla_len(attr) / CKPT_RANGE_SIZE;
	/* At least one slot, so that a parent with nothing dirty is not NULL. */
	s->dirty = kvmalloc_array(max(n, 1U), sizeof(*s->dirty), GFP_KERNEL_ACCOUNT);
	if (!s->dirty) {
		NL_SET_ERR_MSG(info->extack, "no memory for dirty-ranges");
		return -ENOMEM;
	}
	/* Copied and checked in one pass; on a bad range the stream frees them. */
	raw = nla_data(attr);
	for (i = 0; i < n; i++) {
		struct ckpt_range *r = &s->dirty[i];

		memcpy(pair, raw + i * CKPT_RANGE_SIZE, sizeof(pair));
		r->start = le64_to_cpu(pair[0]);
		r->end = le64_to_cpu(pair[1]);
		if (!PAGE_ALIGNED(r->start) || !PAGE_ALIGNED(r->end) || r->start >= r->end ||
		    (i && r->start < r[-1].end) || r->end > TASK_SIZE_MAX) {
			NL_SET_ERR_MSG_FMT(info->extack,
					   "dirty-ranges: range %u not aligned, ascending, disjoint",
					   i);
			NL_SET_BAD_ATTR(info->extack, attr);
			return -EINVAL;
		}
	}
	s->nr_dirty = n;
	s->parent_crid = nla_get_u64(info->attrs[CKPT_A_PARENT_CRID]);
	return 0;
}

/*
 * How many of the @nr pages from @addr share the first one's state: written
 * (in a dirty range, *dirty true) or held by the parent. Without ranges
 * every page is data. A binary search for the first range ending past @addr.
 */
unsigned long ckpt_dirty_span(const struct ckpt_stream *s, unsigned long addr,
			      unsigned long nr, bool *dirty)
{
	u64 limit = addr + (nr << PAGE_SHIFT);
	u32 lo = 0, hi = s->nr_dirty, mid;
	const struct ckpt_range *r;

	*dirty = true;
	if (!s->dirty)
		return nr;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->dirty[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	r = lo < s->nr_dirty ? &s->dirty[lo] : NULL;
	if (r && r->start <= addr)
		return (min(r->end, limit) - addr) >> PAGE_SHIFT;
	*dirty = false;
	return ((r ? min(r->start, limit) : limit) - addr) >> PAGE_SHIFT;
}

/* Pages the dirty ranges span: what a checkpoint with a parent copies at most. */
unsigned long ckpt_dirty_pages(const struct ckpt_stream *s)
{
	unsigned long pages = 0;
	u32 i;

	for (i = 0; i < s->nr_dirty; i++)
		pages += (s->dirty[i].end - s->dirty[i].start) >> PAGE_SHIFT;
	return pages;
}
