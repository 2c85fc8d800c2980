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

#include <linux/capability.h>
#include <linux/crc32poly.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/user_namespace.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

unsigned int ckpt_timeout_ms = 60000;
module_param_named(timeout_ms, ckpt_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Default time a whole stream may take before it aborts, ms");

unsigned int ckpt_max_streams = 16;
module_param_named(max_streams, ckpt_max_streams, uint, 0644);
MODULE_PARM_DESC(max_streams, "Most checkpoint streams running at once");

unsigned int ckpt_user_streams = 4;
module_param_named(user_streams, ckpt_user_streams, uint, 0644);
MODULE_PARM_DESC(user_streams, "Most checkpoint streams one uid runs at once");

unsigned int ckpt_restart_max_mib = 256;
module_param_named(restart_max_mib, ckpt_restart_max_mib, uint, 0644);
MODULE_PARM_DESC(restart_max_mib,
		 "Most page data one restart session may stage, MiB");

unsigned int ckpt_restart_user_mib = 512;
module_param_named(restart_user_mib, ckpt_restart_user_mib, uint, 0644);
MODULE_PARM_DESC(restart_user_mib,
		 "Most page data one uid's restart sessions may stage together, MiB");

unsigned int ckpt_restart_total_mib = 1024;
module_param_named(restart_total_mib, ckpt_restart_total_mib, uint, 0644);
MODULE_PARM_DESC(restart_total_mib,
		 "Most page data all restart sessions may stage together, MiB");

unsigned int ckpt_max_sessions = 16;
module_param_named(max_sessions, ckpt_max_sessions, uint, 0644);
MODULE_PARM_DESC(max_sessions, "Most restart sessions open at once");

unsigned int ckpt_user_sessions = 4;
module_param_named(user_sessions, ckpt_user_sessions, uint, 0644);
MODULE_PARM_DESC(user_sessions, "Most restart sessions one uid holds open");

unsigned int ckpt_session_idle_ms = 30000;
module_param_named(session_idle_ms, ckpt_session_idle_ms, uint, 0644);
MODULE_PARM_DESC(session_idle_ms,
		 "A restart session with no request for this long ends, ms");

unsigned int ckpt_fdinfo_helpers = 64;
module_param_named(fdinfo_helpers, ckpt_fdinfo_helpers, uint, 0644);
MODULE_PARM_DESC(fdinfo_helpers,
		 "Most threads reading an epoll's fdinfo at once (a stream waits for one only until its deadline)");

unsigned int ckpt_hold_total_mib = 512;
module_param_named(hold_total_mib, ckpt_hold_total_mib, uint, 0644);
MODULE_PARM_DESC(hold_total_mib,
		 "Most message bytes all streams with the hold flag may hold while their tasks go on, MiB (0: none)");

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

/*
 * The caller holds CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial
 * user namespace: the host's administrator, for whom slots are kept.
 */
bool ckpt_host_admin(void)
{
	return ns_capable_noaudit(&init_user_ns, CAP_CHECKPOINT_RESTORE) ||
	       ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
}

/*
 * EAGAIN, naming the module parameter, when @all (of everybody) reached
 * @max, @mine (of the caller's uid) reached @user_max, or, for a caller
 * that is not the host's administrator (@admin), @others (the slots held
 * by such callers) reached @max less a quarter of it (at least one when
 * @max is two or more): a few users, or roots of user namespaces, cannot
 * take every slot from the host's administrator.
 */
int ckpt_limit(unsigned int all, unsigned int max, const char *max_name,
	       unsigned int mine, unsigned int user_max, const char *user_name,
	       unsigned int others, bool admin, struct netlink_ext_ack *extack)
{
	unsigned int kept = max >= 2 ? max(max / 4, 1U) : 0;

	if (all >= max) {
		NL_SET_ERR_MSG_FMT(extack, "%u in use in all (module parameter %s)",
				   all, max_name);
		return -EAGAIN;
	}
	if (!admin && others >= max - kept) {
		NL_SET_ERR_MSG_FMT(extack, "%u in use without host privilege (%u of %s kept)",
				   others, kept, max_name);
		return -EAGAIN;
	}
	if (mine >= user_max) {
		NL_SET_ERR_MSG_FMT(extack, "%u in use by this user (module parameter %s)",
				   mine, user_name);
		return -EAGAIN;
	}
	return 0;
}

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
	nb = kmalloc(sizeof(*nb), GFP_KERNEL_ACCOUNT);
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

DEFINE_STATIC_KEY_FALSE(ckpt_crc_sliceby8);

/*
 * x^(8 * k * PAGE_SIZE) mod P for k pages, 0 to a fragment's most: the
 * operators that move a CRC-32C register past k pages of zeros. Folding a
 * page fragment's CRC into the stream's then costs one multiplication
 * instead of __crc32c_le_shift()'s 17 for 14 pages (a squaring per bit of
 * the length and a multiplication per set bit), once per fragment inside
 * the freeze.
 */
static u32 ckpt_page_shift[CKPT_FRAG_PAGES + 1] __ro_after_init;

/* a(x) * b(x) mod P, bit-reflected: lib/crc32.c's gf2_multiply() (static there). */
static u32 ckpt_gf2_multiply(u32 a, u32 b)
{
	u32 product = a & 1 ? b : 0;
	int i;

	for (i = 0; i < 31; i++) {
		product = (product >> 1) ^ (product & 1 ? CRC32C_POLY_LE : 0);
		a >>= 1;
		product ^= a & 1 ? b : 0;
	}
	return product;
}

u32 ckpt_crc32c_shift(u32 crc, size_t len)
{
	size_t pages = len >> PAGE_SHIFT;

	if (!offset_in_page(len) && pages < ARRAY_SIZE(ckpt_page_shift))
		return ckpt_gf2_multiply(crc, ckpt_page_shift[pages]);
	return __crc32c_le_shift(crc, len);
}

/* The table, and one check of it against the kernel's own shift. */
static void __init ckpt_crc_shift_init(void)
{
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(ckpt_page_shift); k++)
		ckpt_page_shift[k] = __crc32c_le_shift(0x80000000, k * PAGE_SIZE);
	WARN_ON_ONCE(ckpt_crc32c_shift(0x12345678, 3 * PAGE_SIZE) !=
		     __crc32c_le_shift(0x12345678, 3 * PAGE_SIZE));
}

/*
 * Every streamed byte is checksummed here and again in userspace, so the
 * faster CRC-32C is used. The two are timed over 32 KiB, best of three each,
 * and must agree on it; the table is taken only when it was faster (under
 * qemu's TCG it is, 4x). The line in the log names the choice and both
 * timings (scenario crc-choice).
 */
static void __init ckpt_crc_choose(void)
{
	u64 lib = U64_MAX, table = U64_MAX, t0;
	u32 a = 0, b = 0;
	u8 *buf;
	int i;

	buf = kmalloc(SZ_32K, GFP_KERNEL);
	if (!buf)
		return;
	for (i = 0; i < SZ_32K; i++)
		buf[i] = i * 131 + 7;
	for (i = 0; i < 4; i++) {
		t0 = ktime_get_ns();
		a = crc32c(~0, buf, SZ_32K);
		OPTIMIZER_HIDE_VAR(a);
		if (i)
			lib = min(lib, ktime_get_ns() - t0);
		t0 = ktime_get_ns();
		b = __crc32c_le(~0, buf, SZ_32K);
		OPTIMIZER_HIDE_VAR(b);
		if (i)
			table = min(table, ktime_get_ns() - t0);
	}
	kfree(buf);
	if (WARN_ON_ONCE(a != b))
		return;
	if (table < lib)
		static_branch_enable(&ckpt_crc_sliceby8);
	pr_info("CRC-32C by %s (32 KiB: crc32c() %llu ns, slice-by-8 %llu ns)\n",
		table < lib ? "slice-by-8 table" : "crc32c()", lib, table);
}

/*
 * Order: the sink (pernet state and socket-release notifier), the stream
 * workqueue and restart sessions exist before the family can be called;
 * exit undoes it in reverse.
 */
static int __init ckpt_init(void)
{
	int err;

	ckpt_crc_choose();
	ckpt_crc_shift_init();
	ckpt_file_id_init();
	err = ckpt_sink_init();
	if (err)
		return err;
	err = ckpt_stream_init();
	if (err)
		goto out_sink;
	err = ckpt_restart_init();
	if (err)
		goto out_stream;
	err = genl_register_family(&ckpt_nl_family);
	if (err)
		goto out_restart;
	return 0;

out_restart:
	ckpt_restart_exit();
out_stream:
	ckpt_stream_exit();
out_sink:
	ckpt_sink_exit();
	return err;
}

static void __exit ckpt_exit(void)
{
	/*
	 * Running streams see this at their next check (at most one wait
	 * step or one page run away) and abort with CKPT_ABORT_REASON_UNLOAD;
	 * new requests are refused. No request waits for a peer, so
	 * genl_unregister_family() returns at once; restart sessions end and
	 * their expiry timers are cancelled; destroy_workqueue() then waits
	 * for the streams and any running expiry.
	 */
	WRITE_ONCE(ckpt_unloading, true);
	genl_unregister_family(&ckpt_nl_family);
	ckpt_restart_exit();
	ckpt_stream_exit();
	ckpt_sink_exit();
}

module_init(ckpt_init);
module_exit(ckpt_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Checkpoint a task into a netlink record stream, restore its memory");
MODULE_ALIAS_GENL_FAMILY(CKPT_FAMILY_NAME);
