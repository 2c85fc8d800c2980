// SPDX-License-Identifier: GPL-2.0
/*
 * Request handlers of the ckpt family: sink registration, checkpoint and
 * statistics. The restart handlers are in restart.c; policies and the ops
 * table are generated (ckpt-nl-gen.c) from the YNL spec.
 */
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>

#include "ckpt-nl-gen.h"
#include "internal.h"

/* The sink needs CKPT_CAP in the user namespace owning the netns. */
static int ckpt_sink_capable(struct sk_buff *skb, struct genl_info *info)
{
	struct user_namespace *ns = genl_info_net(info)->user_ns;

	if (netlink_ns_capable(skb, ns, CAP_CHECKPOINT_RESTORE) ||
	    netlink_ns_capable(skb, ns, CAP_SYS_ADMIN))
		return 0;
	NL_SET_ERR_MSG(info->extack,
		       "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the network namespace is required");
	return -EPERM;
}

int ckpt_nl_sink_register_doit(struct sk_buff *skb, struct genl_info *info)
{
	int err = ckpt_sink_capable(skb, info);

	if (err)
		return err;
	return ckpt_sink_register(genl_info_net(info), info->snd_portid,
				  info->extack);
}

int ckpt_nl_sink_unregister_doit(struct sk_buff *skb, struct genl_info *info)
{
	int err = ckpt_sink_capable(skb, info);

	if (err)
		return err;
	return ckpt_sink_unregister(genl_info_net(info), info->snd_portid,
				    info->extack);
}

/*
 * Stops @task with SIGSTOP and waits (killable, at most 2 s) until every
 * thread is stopped. The caller resumes it with SIGCONT on every path.
 */
static int ckpt_stop_task(struct task_struct *task,
			  struct netlink_ext_ack *extack)
{
	int i;

	send_sig(SIGSTOP, task, 1);
	for (i = 0; i < 2000; i++) {
		if (ckpt_task_stopped(task))
			return 0;
		if (task->flags & PF_EXITING) {
			NL_SET_ERR_MSG(extack, "the task exited while being stopped");
			return -ESRCH;
		}
		if (fatal_signal_pending(current)) {
			NL_SET_ERR_MSG(extack, "interrupted while stopping the task");
			return -EINTR;
		}
		usleep_range(500, 1000);
	}
	NL_SET_ERR_MSG(extack, "the task did not stop within 2 s");
	return -EBUSY;
}

static u32 ckpt_abort_reason(int err, const char **why)
{
	switch (err) {
	case -ESRCH:
		*why = "the task exited during the checkpoint";
		return CKPT_ABORT_REASON_TASK_EXITED;
	case -EINTR:
		*why = "the requester was interrupted";
		return CKPT_ABORT_REASON_INTERRUPTED;
	case -ENOMEM:
		*why = "out of memory";
		return CKPT_ABORT_REASON_NOMEM;
	default:
		*why = "reading the task failed";
		return CKPT_ABORT_REASON_FAULT;
	}
}

static int ckpt_checkpoint_reply(struct genl_info *info, struct ckpt_stream *s)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(3 * nla_total_size_64bit(sizeof(u64)) +
			  nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_CHECKPOINT);
	if (!hdr ||
	    nla_put_u64_64bit(msg, CKPT_A_CRID, s->crid, CKPT_A_PAD) ||
	    nla_put_u64_64bit(msg, CKPT_A_RECORDS, s->records, CKPT_A_PAD) ||
	    nla_put_u64_64bit(msg, CKPT_A_BYTES, s->bytes, CKPT_A_PAD) ||
	    nla_put_u32(msg, CKPT_A_CHECKSUM, ~s->crc)) {
		WARN_ON_ONCE(1);	/* sized above */
		nlmsg_free(msg);
		NL_SET_ERR_MSG(info->extack, "reply too large");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int ckpt_checkpoint_stream(struct genl_info *info,
				  struct task_struct *task, u32 timeout_ms,
				  u32 flags)
{
	bool stopped_by_us = false;
	struct ckpt_stream s;
	const char *why;
	int err;

	err = ckpt_stream_open(&s, genl_info_net(info), timeout_ms,
			       info->extack);
	if (err)
		return err;

	if (!ckpt_task_stopped(task)) {
		if (!(flags & CKPT_CHECKPOINT_FLAGS_STOP)) {
			NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
					    "the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)");
			err = -EBUSY;
			goto out_close;
		}
		stopped_by_us = true;
		err = ckpt_stop_task(task, info->extack);
		if (err)
			goto out_resume;
	}

	err = ckpt_stream_begin(&s, task_tgid_vnr(task));
	if (!err)
		err = ckpt_checkpoint_task(&s, task);
	if (!err)
		err = ckpt_stream_end(&s);
	if (err) {
		u32 reason = ckpt_abort_reason(err, &why);

		ckpt_stream_abort(&s, reason, err, why);
		NL_SET_ERR_MSG_FMT(info->extack, "stream %llu aborted: %s",
				   s.crid, s.why);
		err = s.err;
		goto out_resume;
	}
	err = ckpt_checkpoint_reply(info, &s);

out_resume:
	if (stopped_by_us)
		send_sig(SIGCONT, task, 1);
out_close:
	ckpt_stream_close(&s);
	return err;
}

int ckpt_nl_checkpoint_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct task_struct *task;
	u32 flags = 0, timeout_ms = 0;
	struct pid *claim;
	int err;

	if (CKPT_REQUIRE(info, CKPT_A_PID))
		return -EINVAL;
	if (info->attrs[CKPT_A_CHECKPOINT_FLAGS])
		flags = nla_get_u32(info->attrs[CKPT_A_CHECKPOINT_FLAGS]);
	if (info->attrs[CKPT_A_TIMEOUT_MS])
		timeout_ms = nla_get_u32(info->attrs[CKPT_A_TIMEOUT_MS]);

	task = ckpt_get_target(skb, info, CKPT_A_PID);
	if (IS_ERR(task))
		return PTR_ERR(task);
	err = ckpt_may_access(skb, task, info->extack);
	if (err)
		goto out_put;
	claim = ckpt_claim(task);
	if (IS_ERR(claim)) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[CKPT_A_PID],
				    "the task is already in a checkpoint or restart");
		err = PTR_ERR(claim);
		goto out_put;
	}
	err = ckpt_checkpoint_stream(info, task, timeout_ms, flags);
	ckpt_release(claim);
out_put:
	put_task_struct(task);
	return err;
}

int ckpt_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	static const struct {
		int attr;
		atomic64_t *v;
	} counters[] = {
		{ CKPT_A_STATS_STREAMS, &ckpt_stats.streams },
		{ CKPT_A_STATS_RECORDS, &ckpt_stats.records },
		{ CKPT_A_STATS_BYTES, &ckpt_stats.bytes },
		{ CKPT_A_STATS_ABORTS, &ckpt_stats.aborts },
		{ CKPT_A_STATS_WAIT_NS, &ckpt_stats.wait_ns },
		{ CKPT_A_STATS_RESTARTS, &ckpt_stats.restarts },
		{ CKPT_A_STATS_RESTART_REJECTS, &ckpt_stats.restart_rejects },
	};
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;
	int i;

	msg = genlmsg_new(nla_total_size(0) + ARRAY_SIZE(counters) *
			  nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_STATS_GET);
	if (!hdr)
		goto bug;
	nest = nla_nest_start(msg, CKPT_A_STATS);
	if (!nest)
		goto bug;
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		if (nla_put_u64_64bit(msg, counters[i].attr,
				      atomic64_read(counters[i].v),
				      CKPT_A_STATS_PAD))
			goto bug;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

bug:
	WARN_ON_ONCE(1);	/* sized above */
	nlmsg_free(msg);
	NL_SET_ERR_MSG(info->extack, "reply too large");
	return -EMSGSIZE;
}
