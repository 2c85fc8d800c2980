/* PAGEMAP_SCAN, the ioctl of /proc/PID/pagemap (Linux 6.7; soft-dirty as a category since
 * 6.8): Swift cannot call the variadic ioctl(), and Debian 12's <linux/fs.h> (6.1) does not
 * define the request or its structs, so they are spelt here as the kernel's UAPI header
 * defines them (include/uapi/linux/fs.h), used only where the system header lacks them. */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include "ckpt_shims.h"

#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#endif

_Static_assert(sizeof(struct ckpt_page_region) == sizeof(struct page_region), "page_region layout");
_Static_assert(CKPT_PAGE_IS_PRESENT == PAGE_IS_PRESENT, "PAGE_IS_PRESENT");
_Static_assert(CKPT_PAGE_IS_SOFT_DIRTY == PAGE_IS_SOFT_DIRTY, "PAGE_IS_SOFT_DIRTY");

long ckpt_pagemap_scan(int fd, uint64_t start, uint64_t end, uint64_t category,
		       struct ckpt_page_region *vec, uint64_t vec_len, uint64_t *walk_end)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (uintptr_t)vec,
		.vec_len = vec_len,
		.category_mask = category,
		.return_mask = category,
	};
	long n = ioctl(fd, PAGEMAP_SCAN, &arg);

	if (n >= 0)
		*walk_end = arg.walk_end;
	return n;
}
