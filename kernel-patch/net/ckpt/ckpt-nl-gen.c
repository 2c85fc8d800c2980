// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/ckpt.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "ckpt-nl-gen.h"

#include <uapi/linux/ckpt.h>

/* Integer value ranges */
static const struct netlink_range_validation ckpt_a_timeout_ms_range = {
	.max	= CKPT_TIMEOUT_MAX_MS,
};

static const struct netlink_range_validation ckpt_a_data_len_range = {
	.max	= CKPT_RECORD_DATA_MAX,
};

static const struct netlink_range_validation ckpt_a_data_offset_range = {
	.max	= CKPT_RECORD_DATA_MAX,
};

/* Common nested types */
const struct nla_policy ckpt_meta_nl_policy[CKPT_A_META_EXIT_STATUS + 1] = {
	[CKPT_A_META_ARCH] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_PAGE_SIZE] = { .type = NLA_U32, },
	[CKPT_A_META_RELEASE] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_TIME_NS] = { .type = NLA_U64, },
	[CKPT_A_META_PID] = { .type = NLA_U32, },
	[CKPT_A_META_TGID] = { .type = NLA_U32, },
	[CKPT_A_META_PPID] = { .type = NLA_U32, },
	[CKPT_A_META_COMM] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_UID] = { .type = NLA_U32, },
	[CKPT_A_META_GID] = { .type = NLA_U32, },
	[CKPT_A_META_EUID] = { .type = NLA_U32, },
	[CKPT_A_META_EGID] = { .type = NLA_U32, },
	[CKPT_A_META_TID] = { .type = NLA_U32, },
	[CKPT_A_META_START_CODE] = { .type = NLA_U64, },
	[CKPT_A_META_END_CODE] = { .type = NLA_U64, },
	[CKPT_A_META_START_DATA] = { .type = NLA_U64, },
	[CKPT_A_META_END_DATA] = { .type = NLA_U64, },
	[CKPT_A_META_START_BRK] = { .type = NLA_U64, },
	[CKPT_A_META_BRK] = { .type = NLA_U64, },
	[CKPT_A_META_START_STACK] = { .type = NLA_U64, },
	[CKPT_A_META_ARG_START] = { .type = NLA_U64, },
	[CKPT_A_META_ARG_END] = { .type = NLA_U64, },
	[CKPT_A_META_ENV_START] = { .type = NLA_U64, },
	[CKPT_A_META_ENV_END] = { .type = NLA_U64, },
	[CKPT_A_META_START] = { .type = NLA_U64, },
	[CKPT_A_META_END] = { .type = NLA_U64, },
	[CKPT_A_META_VM_FLAGS] = { .type = NLA_U64, },
	[CKPT_A_META_PGOFF] = { .type = NLA_U64, },
	[CKPT_A_META_PATH] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_ADDR] = { .type = NLA_U64, },
	[CKPT_A_META_NR_PAGES] = NLA_POLICY_RANGE(NLA_U32, 1, CKPT_PAGES_RUN_MAX),
	[CKPT_A_META_FD] = { .type = NLA_U32, },
	[CKPT_A_META_F_FLAGS] = { .type = NLA_U32, },
	[CKPT_A_META_POS] = { .type = NLA_U64, },
	[CKPT_A_META_NR_THREADS] = { .type = NLA_U32, },
	[CKPT_A_META_NR_VMAS] = { .type = NLA_U32, },
	[CKPT_A_META_NR_PAGES_TOTAL] = { .type = NLA_U64, },
	[CKPT_A_META_NR_FILES] = { .type = NLA_U32, },
	[CKPT_A_META_INO] = { .type = NLA_U64, },
	[CKPT_A_META_DEV] = { .type = NLA_U32, },
	[CKPT_A_META_SIZE] = { .type = NLA_U64, },
	[CKPT_A_META_MTIME_NS] = { .type = NLA_U64, },
	[CKPT_A_META_SIGMASK] = { .type = NLA_U64, },
	[CKPT_A_META_NR_SIGS] = { .type = NLA_U32, },
	[CKPT_A_META_XFEATURES] = { .type = NLA_U64, },
	[CKPT_A_META_RSEQ] = { .type = NLA_U64, },
	[CKPT_A_META_RSEQ_LEN] = { .type = NLA_U32, },
	[CKPT_A_META_RSEQ_SIG] = { .type = NLA_U32, },
	[CKPT_A_META_ROBUST_LIST] = { .type = NLA_U64, },
	[CKPT_A_META_CLEAR_CHILD_TID] = { .type = NLA_U64, },
	[CKPT_A_META_CWD] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_UMASK] = { .type = NLA_U32, },
	[CKPT_A_META_SHARED_PENDING] = { .type = NLA_U64, },
	[CKPT_A_META_SIGPENDING] = { .type = NLA_U64, },
	[CKPT_A_META_ALTSTACK_SP] = { .type = NLA_U64, },
	[CKPT_A_META_ALTSTACK_SIZE] = { .type = NLA_U64, },
	[CKPT_A_META_ALTSTACK_FLAGS] = { .type = NLA_U32, },
	[CKPT_A_META_NR_RLIMITS] = { .type = NLA_U32, },
	[CKPT_A_META_PIPE_SIZE] = { .type = NLA_U32, },
	[CKPT_A_META_PIPE_BYTES] = { .type = NLA_U32, },
	[CKPT_A_META_NR_SIGINFO] = NLA_POLICY_MAX(NLA_U32, CKPT_SIGINFO_MAX),
	[CKPT_A_META_NR_QUEUED] = { .type = NLA_U32, },
	[CKPT_A_META_PERSONALITY] = { .type = NLA_U32, },
	[CKPT_A_META_ROOT] = { .type = NLA_NUL_STRING, },
	[CKPT_A_META_SOCK_TYPE] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_STATE] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x7ff),
	[CKPT_A_META_PEER_INO] = { .type = NLA_U64, },
	[CKPT_A_META_SOCK_SHUTDOWN] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_BYTES] = { .type = NLA_U64, },
	[CKPT_A_META_SNDBUF] = { .type = NLA_U32, },
	[CKPT_A_META_RCVBUF] = { .type = NLA_U32, },
	[CKPT_A_META_PARENT_CRID] = { .type = NLA_U64, },
	[CKPT_A_META_CHECKPOINT_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x1f),
	[CKPT_A_META_DUMPABLE] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_FAMILY] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_PROTOCOL] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_ADDR] = { .type = NLA_BINARY, },
	[CKPT_A_META_SOCK_PEER_ADDR] = { .type = NLA_BINARY, },
	[CKPT_A_META_SOCK_BACKLOG] = { .type = NLA_U32, },
	[CKPT_A_META_SOCK_QUEUED] = { .type = NLA_U32, },
	[CKPT_A_META_SEALS] = { .type = NLA_U32, },
	[CKPT_A_META_PGID] = { .type = NLA_U32, },
	[CKPT_A_META_SID] = { .type = NLA_U32, },
	[CKPT_A_META_FILE_ID] = { .type = NLA_U64, },
	[CKPT_A_META_EXIT_STATUS] = { .type = NLA_U32, },
};

/* CKPT_CMD_SINK_REGISTER - do */
static const struct nla_policy ckpt_sink_register_nl_policy[CKPT_A_PAD + 1] = {
};

/* CKPT_CMD_SINK_UNREGISTER - do */
static const struct nla_policy ckpt_sink_unregister_nl_policy[CKPT_A_PAD + 1] = {
};

/* CKPT_CMD_CHECKPOINT - do */
static const struct nla_policy ckpt_checkpoint_nl_policy[CKPT_A_DIRTY_RANGES + 1] = {
	[CKPT_A_PID] = NLA_POLICY_MIN(NLA_U32, 1),
	[CKPT_A_CHECKPOINT_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x1f),
	[CKPT_A_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32, &ckpt_a_timeout_ms_range),
	[CKPT_A_PARENT_CRID] = { .type = NLA_U64, },
	[CKPT_A_DIRTY_RANGES] = { .type = NLA_BINARY, },
};

/* CKPT_CMD_RESTART_BEGIN - do */
static const struct nla_policy ckpt_restart_begin_nl_policy[CKPT_A_RESTART_FLAGS + 1] = {
	[CKPT_A_PID] = NLA_POLICY_MIN(NLA_U32, 1),
	[CKPT_A_RESTART_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x3),
};

/* CKPT_CMD_RESTART_RECORD - do */
static const struct nla_policy ckpt_restart_record_nl_policy[CKPT_A_RSID + 1] = {
	[CKPT_A_RSID] = NLA_POLICY_MIN(NLA_U32, 1),
	[CKPT_A_SEQ] = { .type = NLA_U32, },
	[CKPT_A_REC_TYPE] = NLA_POLICY_MAX(NLA_U32, 19),
	[CKPT_A_REC_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[CKPT_A_REC_PARENT] = { .type = NLA_U32, },
	[CKPT_A_DATA_LEN] = NLA_POLICY_FULL_RANGE(NLA_U64, &ckpt_a_data_len_range),
	[CKPT_A_DATA_OFFSET] = NLA_POLICY_FULL_RANGE(NLA_U64, &ckpt_a_data_offset_range),
	[CKPT_A_META] = NLA_POLICY_NESTED(ckpt_meta_nl_policy),
	[CKPT_A_DATA] = { .type = NLA_BINARY, },
};

/* CKPT_CMD_RESTART_COMMIT - do */
static const struct nla_policy ckpt_restart_commit_nl_policy[CKPT_A_RSID + 1] = {
	[CKPT_A_RSID] = NLA_POLICY_MIN(NLA_U32, 1),
	[CKPT_A_SEQ] = { .type = NLA_U32, },
	[CKPT_A_RECORDS] = { .type = NLA_U64, },
	[CKPT_A_BYTES] = { .type = NLA_U64, },
	[CKPT_A_CHECKSUM] = { .type = NLA_U32, },
};

/* CKPT_CMD_RESTART_ABORT - do */
static const struct nla_policy ckpt_restart_abort_nl_policy[CKPT_A_RSID + 1] = {
	[CKPT_A_RSID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* CKPT_CMD_STATS_GET - do */
static const struct nla_policy ckpt_stats_get_nl_policy[CKPT_A_PAD + 1] = {
};

/* CKPT_CMD_CHECKPOINT_GO - do */
static const struct nla_policy ckpt_checkpoint_go_nl_policy[CKPT_A_CRID + 1] = {
	[CKPT_A_CRID] = { .type = NLA_U64, },
};

/* Ops table for ckpt */
static const struct genl_split_ops ckpt_nl_ops[] = {
	{
		.cmd		= CKPT_CMD_SINK_REGISTER,
		.doit		= ckpt_nl_sink_register_doit,
		.policy		= ckpt_sink_register_nl_policy,
		.maxattr	= CKPT_A_PAD,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_SINK_UNREGISTER,
		.doit		= ckpt_nl_sink_unregister_doit,
		.policy		= ckpt_sink_unregister_nl_policy,
		.maxattr	= CKPT_A_PAD,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_CHECKPOINT,
		.doit		= ckpt_nl_checkpoint_doit,
		.policy		= ckpt_checkpoint_nl_policy,
		.maxattr	= CKPT_A_DIRTY_RANGES,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_RESTART_BEGIN,
		.doit		= ckpt_nl_restart_begin_doit,
		.policy		= ckpt_restart_begin_nl_policy,
		.maxattr	= CKPT_A_RESTART_FLAGS,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_RESTART_RECORD,
		.doit		= ckpt_nl_restart_record_doit,
		.policy		= ckpt_restart_record_nl_policy,
		.maxattr	= CKPT_A_RSID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_RESTART_COMMIT,
		.doit		= ckpt_nl_restart_commit_doit,
		.policy		= ckpt_restart_commit_nl_policy,
		.maxattr	= CKPT_A_RSID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_RESTART_ABORT,
		.doit		= ckpt_nl_restart_abort_doit,
		.policy		= ckpt_restart_abort_nl_policy,
		.maxattr	= CKPT_A_RSID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_STATS_GET,
		.doit		= ckpt_nl_stats_get_doit,
		.policy		= ckpt_stats_get_nl_policy,
		.maxattr	= CKPT_A_PAD,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CKPT_CMD_CHECKPOINT_GO,
		.doit		= ckpt_nl_checkpoint_go_doit,
		.policy		= ckpt_checkpoint_go_nl_policy,
		.maxattr	= CKPT_A_CRID,
		.flags		= GENL_CMD_CAP_DO,
	},
};

struct genl_family ckpt_nl_family __ro_after_init = {
	.name		= CKPT_FAMILY_NAME,
	.version	= CKPT_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= ckpt_nl_ops,
	.n_split_ops	= ARRAY_SIZE(ckpt_nl_ops),
};
