// SPDX-License-Identifier: GPL-2.0
/*
 * Builds the generated policy and ops tables. On kernels with split ops
 * (6.2+) this is the generated file as is; on 6.1 the few split-ops names
 * it uses are mapped onto struct genl_ops (see compat.h). The generated
 * file is never edited by hand.
 */
#include "compat.h"

#ifdef CKPT_COMPAT_NO_SPLIT_OPS
#define genl_split_ops genl_ops
#define split_ops ops
#define n_split_ops n_ops

/*
 * 6.1's struct nla_policy points at a non-const netlink_range_validation
 * (const since 6.2) and the generated tables declare theirs const. The
 * kernel only reads through that pointer: cast the qualifier away here.
 */
#undef NLA_POLICY_FULL_RANGE
#define NLA_POLICY_FULL_RANGE(tp, _range) {				\
	.type = NLA_ENSURE_UINT_OR_BINARY_TYPE(tp),			\
	.validation_type = NLA_VALIDATE_RANGE_PTR,			\
	.range = (struct netlink_range_validation *)(_range),		\
}
#endif

#include "ckpt-nl-gen.c"
