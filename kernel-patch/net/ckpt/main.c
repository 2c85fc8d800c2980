// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt: checkpoint a task into a record stream for userspace, and restore
 * its memory from one. Module parameters, counters, ids, init and exit.
 *
 * The protocol is documented at the top of include/uapi/linux/ckpt.h; the
 * permission model and where this module differs from the in-tree form in
 * SECURITY.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

unsigned int ckpt_timeout_ms = 10000;
module_param_named(timeout_ms, ckpt_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Default wait for a full sink before a stream aborts, ms");

unsigned int ckpt_restart_max_mib = 256;
module_param_named(restart_max_mib, ckpt_restart_max_mib, uint, 0644);
MODULE_PARM_DESC(restart_max_mib,
		 "Most page data one restart session may stage, MiB");

struct ckpt_stats ckpt_stats;
bool ckpt_unloading;

/* Start at 1 so that 0 never names a stream or a session. */
static atomic64_t ckpt_crid = ATOMIC64_INIT(0);
static atomic_t ckpt_rsid = ATOMIC_INIT(0);

u64 ckpt_next_crid(void)
{
	return atomic64_inc_return(&ckpt_crid);
}

u32 ckpt_next_rsid(void)
{
	u32 id;

	do
		id = atomic_inc_return(&ckpt_rsid);
	while (!id);
	return id;
}

#ifdef CKPT_COMPAT_FMT
const char *ckpt_compat_fmt(const char *fmt, ...)
{
	static char bufs[32][80];
	static atomic_t next = ATOMIC_INIT(0);
	char *buf = bufs[(unsigned int)atomic_inc_return(&next) % 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return buf;
}
#endif

/* Thread groups in a checkpoint or restart, by their tgid struct pid. */
struct ckpt_busy {
	struct list_head node;
	struct pid *tgid;
};

static LIST_HEAD(ckpt_busy_list);
static DEFINE_SPINLOCK(ckpt_busy_lock);

/*
 * Returns the claim (the group's tgid struct pid, referenced), to be given
 * back to ckpt_release(): the task may exit and lose its pid meanwhile.
 */
struct pid *ckpt_claim(struct task_struct *task)
{
	struct pid *tgid = get_task_pid(task, PIDTYPE_TGID);
	struct ckpt_busy *b, *nb;

	if (!tgid)
		return ERR_PTR(-ESRCH);
	nb = kmalloc(sizeof(*nb), GFP_KERNEL);
	if (!nb) {
		put_pid(tgid);
		return ERR_PTR(-ENOMEM);
	}
	nb->tgid = tgid;

	spin_lock(&ckpt_busy_lock);
	list_for_each_entry(b, &ckpt_busy_list, node) {
		if (b->tgid == tgid) {
			spin_unlock(&ckpt_busy_lock);
			put_pid(tgid);
			kfree(nb);
			return ERR_PTR(-EBUSY);
		}
	}
	list_add(&nb->node, &ckpt_busy_list);
	spin_unlock(&ckpt_busy_lock);
	return tgid;
}

void ckpt_release(struct pid *claim)
{
	struct ckpt_busy *b, *found = NULL;

	spin_lock(&ckpt_busy_lock);
	list_for_each_entry(b, &ckpt_busy_list, node) {
		if (b->tgid == claim) {
			found = b;
			list_del(&b->node);
			break;
		}
	}
	spin_unlock(&ckpt_busy_lock);

	/* A claim is only released once, by its owner. */
	if (WARN_ON_ONCE(!found))
		return;
	put_pid(found->tgid);
	kfree(found);
}

/*
 * Order: the sink (pernet state and socket-release notifier) and restart
 * sessions exist before the family can be called; exit undoes it in reverse,
 * after unregistering the family, which waits for running requests.
 */
static int __init ckpt_init(void)
{
	int err;

	err = ckpt_sink_init();
	if (err)
		return err;
	err = ckpt_restart_init();
	if (err)
		goto out_sink;
	err = genl_register_family(&ckpt_nl_family);
	if (err)
		goto out_restart;
	return 0;

out_restart:
	ckpt_restart_exit();
out_sink:
	ckpt_sink_exit();
	return err;
}

static void __exit ckpt_exit(void)
{
	/*
	 * Streams check this before every message and abort with
	 * CKPT_ABORT_REASON_UNLOAD; genl_unregister_family() then waits for
	 * the requests still running (each at most one send timeout away).
	 */
	WRITE_ONCE(ckpt_unloading, true);
	genl_unregister_family(&ckpt_nl_family);
	ckpt_restart_exit();
	ckpt_sink_exit();
}

module_init(ckpt_init);
module_exit(ckpt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Checkpoint a task into a netlink record stream, restore its memory");
MODULE_ALIAS_GENL_FAMILY(CKPT_FAMILY_NAME);
