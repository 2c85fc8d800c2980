// SPDX-License-Identifier: GPL-2.0
/*
 * Who may checkpoint or restore whom.
 *
 * A target is a thread group, named by its tgid as the requester's pid
 * namespace sees it. The requester needs CAP_CHECKPOINT_RESTORE or
 * CAP_SYS_ADMIN in the target's user namespace (asked of both the task and
 * the opener of the netlink socket, netlink_ns_capable()), and must pass the
 * check ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS) makes.
 *
 * ptrace_may_access() is not exported to modules. ckpt_ptrace_check()
 * reproduces the parts of __ptrace_may_access() that do not call into the
 * LSMs: same thread group, real uid/gid against the target's uid/euid/suid
 * and gid/egid/sgid or CAP_SYS_PTRACE in the target's user namespace, then
 * the dumpable check against the mm's user namespace. What it cannot do is
 * call security_ptrace_access_check(): Yama, SELinux, AppArmor and Smack
 * are not asked. The in-tree form calls ptrace_may_access() itself; see
 * SECURITY.md.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/netlink.h>
#include <linux/pid.h>
#include <linux/regset.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/elf-em.h>
#include <linux/user_namespace.h>

#include "internal.h"

/* Every thread stopped (group stop) or stopped by a tracer. */
bool ckpt_task_stopped(struct task_struct *task)
{
	struct task_struct *t;
	bool stopped = true;

	rcu_read_lock();
	for_each_thread(task, t) {
		if (!task_is_stopped_or_traced(t)) {
			stopped = false;
			break;
		}
	}
	rcu_read_unlock();
	return stopped;
}

/*
 * Resolves CKPT_A_PID in the requester's pid namespace to a thread-group
 * leader, with a reference. Sets extack and returns an ERR_PTR otherwise.
 */
struct task_struct *ckpt_get_target(struct sk_buff *skb, struct genl_info *info,
				    u32 pid_attr_nr)
{
	struct nlattr *attr = info->attrs[pid_attr_nr];
	struct task_struct *task;
	struct pid *pid;

	pid = find_get_pid(nla_get_u32(attr));
	task = pid ? get_pid_task(pid, PIDTYPE_TGID) : NULL;
	put_pid(pid);
	if (!task) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no such process in the caller's pid namespace");
		return ERR_PTR(-ESRCH);
	}
	if (task->flags & PF_KTHREAD) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "kernel threads cannot be checkpointed");
		put_task_struct(task);
		return ERR_PTR(-EOPNOTSUPP);
	}
	if (same_thread_group(task, current)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "a task cannot checkpoint or restore its own thread group");
		put_task_struct(task);
		return ERR_PTR(-EINVAL);
	}
	if (task_user_regset_view(task)->e_machine !=
	    task_user_regset_view(current)->e_machine ||
	    !IS_ENABLED(CONFIG_X86_64)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "only native x86-64 tasks are supported");
		put_task_struct(task);
		return ERR_PTR(-EOPNOTSUPP);
	}
	if (task->flags & PF_EXITING) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "the process is exiting");
		put_task_struct(task);
		return ERR_PTR(-ESRCH);
	}
	return task;
}

/* __ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS) minus the LSM hook. */
static int ckpt_ptrace_check(struct task_struct *task)
{
	const struct cred *cred = current_cred(), *tcred;
	struct mm_struct *mm;
	bool ok;

	/* As in ptrace: task_lock keeps task->mm stable. */
	task_lock(task);
	rcu_read_lock();
	tcred = __task_cred(task);
	ok = (uid_eq(cred->uid, tcred->euid) &&
	      uid_eq(cred->uid, tcred->suid) &&
	      uid_eq(cred->uid, tcred->uid) &&
	      gid_eq(cred->gid, tcred->egid) &&
	      gid_eq(cred->gid, tcred->sgid) &&
	      gid_eq(cred->gid, tcred->gid)) ||
	     ns_capable(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();

	mm = task->mm;
	if (ok && mm && get_dumpable(mm) != SUID_DUMP_USER &&
	    !ns_capable(mm->user_ns, CAP_SYS_PTRACE))
		ok = false;
	task_unlock(task);
	return ok ? 0 : -EACCES;
}

int ckpt_may_access(struct sk_buff *skb, struct task_struct *task,
		    struct netlink_ext_ack *extack)
{
	struct user_namespace *ns;
	bool capable;

	rcu_read_lock();
	ns = get_user_ns(__task_cred(task)->user_ns);
	rcu_read_unlock();
	capable = netlink_ns_capable(skb, ns, CAP_CHECKPOINT_RESTORE) ||
		  netlink_ns_capable(skb, ns, CAP_SYS_ADMIN);
	put_user_ns(ns);
	if (!capable) {
		NL_SET_ERR_MSG(extack,
			       "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the target's user namespace is required");
		return -EPERM;
	}
	if (ckpt_ptrace_check(task)) {
		NL_SET_ERR_MSG(extack,
			       "ptrace access check refused: other owner, not dumpable, and no CAP_SYS_PTRACE");
		return -EACCES;
	}
	return 0;
}
