// SPDX-License-Identifier: GPL-2.0
/*
 * Who may checkpoint or restore whom, and how what was checked stays what
 * is used.
 *
 * A target is a thread group, named by its tgid as the requester's pid
 * namespace sees it. Order of checks, each before anything later touches
 * the task:
 *
 *   1. resolve the pid; a zombie or exiting task is ESRCH (a zombie is let
 *      through for a checkpoint with CKPT_CHECKPOINT_FLAGS_ZOMBIE), a kernel
 *      thread EOPNOTSUPP, the requester's own group EINVAL (only flags and
 *      the exit state are read);
 *   2. under the target's exec_update_lock (as mm_access() does): the
 *      requester needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the
 *      target's user namespace (of both the task and the socket's opener,
 *      netlink_ns_capable()) and must pass the check
 *      ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS) makes; the
 *      capture sink's registering credentials must pass the same (a stream
 *      only goes where its data may go); then the mm is pinned and the
 *      task's self_exec_id noted, still under the lock;
 *   3. only then is stack-held state (the regset view) read, under
 *      ckpt_with_task_stack().
 *
 * Later uses re-take exec_update_lock and compare task->mm and
 * self_exec_id with what was pinned: an exec in between makes a stream
 * abort (CKPT_ABORT_REASON_EXEC) and a restart commit fail.
 *
 * ptrace_may_access() is not exported to modules. ckpt_ptrace_check()
 * reproduces the parts of __ptrace_may_access() that do not call into the
 * LSMs: same thread group, real uid/gid against the target's uid/euid/suid
 * and gid/egid/sgid or CAP_SYS_PTRACE in the target's user namespace, then
 * the dumpable check against the mm's user namespace. It works on
 * current's subjective credentials, so override_creds() lets it check the
 * sink's. What it cannot do is call security_ptrace_access_check(): Yama,
 * SELinux, AppArmor and Smack are not asked. The in-tree form calls
 * ptrace_may_access() itself; see SECURITY.md.
 */
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/cred.h>
#include <linux/elf-em.h>
#include <linux/mmap_lock.h>
#include <linux/netlink.h>
#include <linux/pid.h>
#include <linux/regset.h>
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
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

bool ckpt_task_exiting(struct task_struct *task)
{
	return READ_ONCE(task->exit_state) || (READ_ONCE(task->flags) & PF_EXITING);
}

/*
 * Every thread of @task's group has exited and the group waits for its
 * parent's wait(2). Only ever becomes false again by that wait (the task
 * is then released: its pids read 0).
 */
bool ckpt_task_zombie(struct task_struct *task)
{
	bool empty;

	if (READ_ONCE(task->exit_state) != EXIT_ZOMBIE)
		return false;
	rcu_read_lock();
	empty = thread_group_empty(task);
	rcu_read_unlock();
	return empty;
}

/*
 * Resolves CKPT_A_PID in the requester's pid namespace to a thread-group
 * leader, with a reference, and rejects what must never be touched. Reads
 * nothing of the task but its flags and exit state. A zombie passes only
 * when @zombie_ok (a checkpoint that asked for one). Sets extack and
 * returns an ERR_PTR otherwise.
 */
struct task_struct *ckpt_get_target(struct genl_info *info, u32 pid_attr_nr,
				    bool zombie_ok)
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
	if (ckpt_task_exiting(task) && !(zombie_ok && ckpt_task_zombie(task))) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "the process is exiting or a zombie");
		put_task_struct(task);
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
	return task;
}

/*
 * __ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS) minus the LSM
 * hook, for current's subjective credentials.
 */
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
	     ns_capable_noaudit(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();

	mm = task->mm;
	if (ok && mm && get_dumpable(mm) != SUID_DUMP_USER &&
	    !ns_capable_noaudit(mm->user_ns, CAP_SYS_PTRACE))
		ok = false;
	task_unlock(task);
	return ok ? 0 : -EACCES;
}

static struct user_namespace *ckpt_task_user_ns(struct task_struct *task)
{
	struct user_namespace *ns;

	rcu_read_lock();
	ns = get_user_ns(__task_cred(task)->user_ns);
	rcu_read_unlock();
	return ns;
}

/* The requester: the sending task and the socket's opener (@skb). */
int ckpt_may_access(struct sk_buff *skb, struct task_struct *task,
		    struct netlink_ext_ack *extack)
{
	struct user_namespace *ns = ckpt_task_user_ns(task);
	bool capable;

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

/* The same rules for stored credentials @cred (the sink's). */
int ckpt_cred_may_access(const struct cred *cred, struct task_struct *task)
{
	struct user_namespace *ns = ckpt_task_user_ns(task);
	const struct cred *old = override_creds(cred);
	int err = 0;

	if (!ns_capable_noaudit(ns, CAP_CHECKPOINT_RESTORE) &&
	    !ns_capable_noaudit(ns, CAP_SYS_ADMIN))
		err = -EPERM;
	else if (ckpt_ptrace_check(task))
		err = -EACCES;
	revert_creds(old);
	put_user_ns(ns);
	return err;
}

/*
 * The requester's rules for stored credentials: @opener (the socket's
 * opener) needs the capability, @cred (the sender) the capability and the
 * ptrace check, as ckpt_may_access() asks of a request's skb and current.
 */
int ckpt_creds_may_access(const struct cred *cred, const struct cred *opener,
			  struct task_struct *task)
{
	struct user_namespace *ns = ckpt_task_user_ns(task);
	const struct cred *old = override_creds(opener);
	bool capable = ns_capable_noaudit(ns, CAP_CHECKPOINT_RESTORE) ||
		       ns_capable_noaudit(ns, CAP_SYS_ADMIN);

	revert_creds(old);
	put_user_ns(ns);
	return capable ? ckpt_cred_may_access(cred, task) : -EPERM;
}

/*
 * Lock waits with a bound. A genl doit runs under genl's cb_lock (a doit
 * that sleeps stalls module loads and then every genl family on the host),
 * and a stream or restart writer holds a slot and its target's claim:
 * neither may sleep without bound on a lock that another task can hold
 * across a wait of its own (a /proc/PID/mem read faulting a page of a FUSE
 * file whose daemon does not answer holds the mmap lock; an execve() that
 * waits behind it holds exec_update_lock). These try the lock and poll in
 * 50-100 us steps until @until (jiffies), then return -EBUSY; -EBUSY at
 * once while the module unloads.
 */
#define CKPT_POLL(trylock, until) ({					\
	unsigned long __until = (until);				\
	int __err = 0;							\
									\
	while (!(trylock)) {						\
		if (time_after(jiffies, __until) || READ_ONCE(ckpt_unloading)) { \
			__err = -EBUSY;					\
			break;						\
		}							\
		usleep_range(50, 100);					\
	}								\
	__err;								\
})

int ckpt_exec_lock(struct task_struct *task, unsigned long until)
{
	return CKPT_POLL(down_read_trylock(&task->signal->exec_update_lock), until);
}

int ckpt_mmap_read_lock(struct mm_struct *mm, unsigned long until)
{
	return CKPT_POLL(mmap_read_trylock(mm), until);
}

int ckpt_mmap_write_lock(struct mm_struct *mm, unsigned long until)
{
	return CKPT_POLL(ckpt_mmap_write_trylock(mm), until);
}

int ckpt_mutex_lock(struct mutex *lock, unsigned long until)
{
	return CKPT_POLL(mutex_trylock(lock), until);
}

/*
 * mm_access() for a module: under @task's exec_update_lock, check the
 * requester (@skb, current) and, when @sink_cred is given, the sink's
 * credentials, then pin the mm (mmget) and note self_exec_id. What was
 * checked is the mm returned: an exec after this changes task->mm and
 * self_exec_id, which every later use compares.
 */
int ckpt_pin_mm(struct sk_buff *skb, struct task_struct *task,
		const struct cred *sink_cred, struct mm_struct **mmp,
		u64 *exec_id, struct netlink_ext_ack *extack)
{
	struct mm_struct *mm = NULL;
	int err;

	err = ckpt_exec_lock(task, ckpt_doit_until());
	if (err) {
		NL_SET_ERR_MSG(extack, CKPT_EXEC_BUSY);
		return err;
	}
	err = ckpt_may_access(skb, task, extack);
	if (!err && sink_cred && ckpt_cred_may_access(sink_cred, task)) {
		NL_SET_ERR_MSG(extack, CKPT_SINK_DENIED);
		err = -EACCES;
	}
	if (!err) {
		mm = get_task_mm(task);
		if (!mm) {
			NL_SET_ERR_MSG(extack, "the task has no address space");
			err = -ESRCH;
		}
	}
	if (!err) {
		*mmp = mm;
		*exec_id = task->self_exec_id;
	}
	up_read(&task->signal->exec_update_lock);
	return err;
}

/*
 * Under exec_update_lock (held by the caller): @task still runs the image
 * whose mm was pinned. False after an exec or once the task lost its mm.
 */
bool ckpt_same_image(struct task_struct *task, struct mm_struct *mm,
		     u64 exec_id)
{
	lockdep_assert_held(&task->signal->exec_update_lock);
	return READ_ONCE(task->mm) == mm && task->self_exec_id == exec_id;
}

/*
 * Runs @fn(t, arg) while @t's kernel stack (its pt_regs, the regset view)
 * cannot be freed, and returns its result; -ESRCH when @t already left
 * @mm. A task frees its stack only after its last schedule, which comes
 * after exit_mm() cleared t->mm while holding mm's mmap lock for reading
 * (exec swaps t->mm under the same lock). Holding the lock for writing and
 * seeing t->mm == mm proves @t has not got that far and cannot meanwhile.
 * In-tree this is try_get_task_stack()/put_task_stack(); put_task_stack()
 * is not exported to modules. @fn must not sleep for long: the target's
 * mm is write-locked. -EBUSY if the lock stayed taken until @until.
 */
int ckpt_with_task_stack(struct task_struct *t, struct mm_struct *mm,
			 unsigned long until,
			 int (*fn)(struct task_struct *t, void *arg), void *arg)
{
	int ret;

	ret = ckpt_mmap_write_lock(mm, until);
	if (ret)
		return ret;
	ret = READ_ONCE(t->mm) == mm ? fn(t, arg) : -ESRCH;
	mmap_write_unlock(mm);
	return ret;
}

static int ckpt_native_fn(struct task_struct *t, void *arg)
{
	return task_user_regset_view(t)->e_machine == EM_X86_64 ? 0 : -EOPNOTSUPP;
}

/* 0 if @task is a native x86-64 task (its regset view, read safely). */
int ckpt_task_native(struct task_struct *task, struct mm_struct *mm,
		     struct netlink_ext_ack *extack)
{
	int err = -EOPNOTSUPP;

	if (IS_ENABLED(CONFIG_X86_64))
		err = ckpt_with_task_stack(task, mm, ckpt_doit_until(),
					   ckpt_native_fn, NULL);
	if (err == -EOPNOTSUPP)
		NL_SET_ERR_MSG(extack, "only native x86-64 tasks are supported");
	else if (err == -EBUSY)
		NL_SET_ERR_MSG(extack, CKPT_MMAP_BUSY);
	else if (err)
		NL_SET_ERR_MSG(extack, "the process is exiting");
	return err;
}
