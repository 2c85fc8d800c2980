/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/ckpt.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_CKPT_GEN_H
#define _LINUX_CKPT_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/ckpt.h>

/* Common nested types */
extern const struct nla_policy ckpt_meta_nl_policy[CKPT_A_META_EXIT_STATUS + 1];

int ckpt_nl_sink_register_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_sink_unregister_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_checkpoint_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_restart_begin_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_restart_record_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_restart_commit_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_restart_abort_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info);
int ckpt_nl_checkpoint_go_doit(struct sk_buff *skb, struct genl_info *info);

extern struct genl_family ckpt_nl_family;

#endif /* _LINUX_CKPT_GEN_H */
