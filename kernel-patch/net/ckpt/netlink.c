// SPDX-License-Identifier: GPL-2.0
/*
 * Request handlers of the ckpt family: sink registration, checkpoint
 * admission and its go, and statistics. The stream itself is produced in
 * stream.c, the restart handlers are in restart.c; policies and the ops
 * table are generated (ckpt-nl-gen.c) from the YNL spec. No handler here
 * waits for a peer: genl_rcv() holds cb_lock around each.
 */
#include <linux/capability.h>
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
	return ckpt_sink_register(genl_info_net(info), skb, info->snd_portid,
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

int ckpt_nl_checkpoint_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct task_struct *task;
	u32 flags = 0, timeout_ms = 0;

	if (CKPT_REQUIRE(info, CKPT_A_PID))
		return -EINVAL;
	if (READ_ONCE(ckpt_unloading)) {
		NL_SET_ERR_MSG(info->extack, "the ckpt module is being unloaded");
		return -ESHUTDOWN;
	}
	if (info->attrs[CKPT_A_CHECKPOINT_FLAGS])
		flags = nla_get_u32(info->attrs[CKPT_A_CHECKPOINT_FLAGS]);
	if (info->attrs[CKPT_A_TIMEOUT_MS])
		timeout_ms = nla_get_u32(info->attrs[CKPT_A_TIMEOUT_MS]);

	task = ckpt_get_target(info, CKPT_A_PID, flags & CKPT_CHECKPOINT_FLAGS_ZOMBIE);
	if (IS_ERR(task))
		return PTR_ERR(task);
	return ckpt_stream_start(skb, info, task, flags, timeout_ms);
}

/* No capability: only the socket that requested the checkpoint finds it. */
int ckpt_nl_checkpoint_go_doit(struct sk_buff *skb, struct genl_info *info)
{
	if (CKPT_REQUIRE(info, CKPT_A_CRID))
		return -EINVAL;
	return ckpt_stream_go(skb, nla_get_u64(info->attrs[CKPT_A_CRID]), info->extack);
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
		{ CKPT_A_STATS_FRAG_PAGES_NEW, &ckpt_stats.frag_pages_new },
		{ CKPT_A_STATS_FRAG_PAGES_REUSED, &ckpt_stats.frag_pages_reused },
		{ CKPT_A_STATS_HELD_BYTES, &ckpt_stats.held_bytes },
		{ CKPT_A_STATS_HOLD_RESERVED_PAGES, &ckpt_stats.hold_reserved },
	};
	struct nlattr *nest;
	struct sk_buff *msg;
	void *hdr;
	int i;

	/*
	 * The counters are the host's (every network namespace's streams): only
	 * who holds the capability over the host reads them, not root of a user
	 * namespace that owns its own network namespace (SECURITY.md).
	 */
	if (!netlink_capable(skb, CAP_CHECKPOINT_RESTORE) &&
	    !netlink_capable(skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(info->extack,
			       "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the host (the initial user namespace) is required: the counters are the host's");
		return -EPERM;
	}
	msg = genlmsg_new(nla_total_size(0) + ARRAY_SIZE(counters) *
			  nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg) {
		NL_SET_ERR_MSG(info->extack, "no memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &ckpt_nl_family, 0,
				CKPT_CMD_STATS_GET);
	if (!hdr)
		goto out_free_msg;
	nest = nla_nest_start(msg, CKPT_A_STATS);
	if (!nest)
		goto out_free_msg;
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		if (nla_put_u64_64bit(msg, counters[i].attr,
				      atomic64_read(counters[i].v),
				      CKPT_A_STATS_PAD))
			goto out_free_msg;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_free_msg:
	WARN_ON_ONCE(1);	/* sized above */
	nlmsg_free(msg);
	NL_SET_ERR_MSG(info->extack, "reply too large");
	return -EMSGSIZE;
}
