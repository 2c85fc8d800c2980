/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ckpt: what the module's files share. The protocol itself is documented at
 * the top of include/uapi/linux/ckpt.h.
 */
#ifndef _CKPT_INTERNAL_H
#define _CKPT_INTERNAL_H

#include <linux/atomic.h>
#include <linux/sched.h>
#include <linux/types.h>
#include <net/genetlink.h>
#include <uapi/linux/ckpt.h>

#include "compat.h"

/* Data bytes per CKPT_CMD_RECORD message: 8 pages, well under CKPT_DATA_MAX. */
#define CKPT_FRAG_DATA		(8 * PAGE_SIZE)

/*
 * GENL_REQ_ATTR_CHECK() reports the missing attribute's type in extack;
 * this adds the text every error of the family carries.
 */
#define CKPT_REQUIRE(info, attr) ({					\
	struct genl_info *__ckpt_info = (info);				\
	bool __missing = GENL_REQ_ATTR_CHECK(__ckpt_info, attr);		\
									\
	if (__missing)							\
		NL_SET_ERR_MSG(__ckpt_info->extack,				\
			       "missing required attribute " #attr);	\
	__missing;							\
})

/* Module parameters (main.c). */
extern unsigned int ckpt_timeout_ms;
extern unsigned int ckpt_restart_max_mib;

/* Family-wide counters (main.c), reported by CKPT_CMD_STATS_GET. */
struct ckpt_stats {
	atomic64_t streams;
	atomic64_t records;
	atomic64_t bytes;
	atomic64_t aborts;
	atomic64_t wait_ns;
	atomic64_t restarts;
	atomic64_t restart_rejects;
};

extern struct ckpt_stats ckpt_stats;

/* Set first thing in module exit: streams abort at their next message. */
extern bool ckpt_unloading;

u64 ckpt_next_crid(void);
u32 ckpt_next_rsid(void);

/*
 * One checkpoint or restart at a time per task: ckpt_claim() marks the
 * thread group busy (ERR_PTR(-EBUSY) if it already is), ckpt_release()
 * clears it.
 */
struct pid *ckpt_claim(struct task_struct *task);
void ckpt_release(struct pid *claim);

/* access.c */
int ckpt_may_access(struct sk_buff *skb, struct task_struct *task,
		    struct netlink_ext_ack *extack);
struct task_struct *ckpt_get_target(struct sk_buff *skb, struct genl_info *info,
				    u32 pid_attr_nr);
bool ckpt_task_stopped(struct task_struct *task);

/* sink.c: the per-netns capture sink. */
int ckpt_sink_init(void);
void ckpt_sink_exit(void);
int ckpt_sink_get(struct net *net, u32 *portid, u64 *gen);
bool ckpt_sink_is(struct net *net, u32 portid, u64 gen);
int ckpt_sink_register(struct net *net, u32 portid, struct netlink_ext_ack *extack);
int ckpt_sink_unregister(struct net *net, u32 portid, struct netlink_ext_ack *extack);

/* A kernel netlink socket a stream sends from, pooled per netns. */
struct ckpt_sock {
	struct list_head node;
	struct socket *sock;
};

struct ckpt_sock *ckpt_sock_get(struct net *net);
void ckpt_sock_put(struct net *net, struct ckpt_sock *cs);

/* emit.c: one stream to the sink. */
struct ckpt_rec {
	u32 type;
	u32 id;
	u32 parent;
	u64 data_len;
	u64 offset;		/* data bytes already sent */
};

struct ckpt_stream {
	struct net *net;
	struct task_struct *task;	/* checked before every record fragment */
	struct ckpt_sock *cs;	/* this stream's sender, from the netns pool */
	struct socket *sock;	/* cs->sock; its sk_sndtimeo bounds waits */
	u32 sink_portid;
	u64 sink_gen;
	u64 crid;
	u32 seq;		/* of the next message */
	u32 last_id;		/* last record id handed out */
	u64 records;
	u64 bytes;
	u32 crc;		/* running CRC-32C, not yet inverted */
	u32 reason;		/* enum ckpt_abort_reason once aborted, else 0 */
	int err;		/* errno of the abort */
	const char *why;	/* the abort's reason, for extack and the sink */
	u64 wait_ns;
	struct sk_buff *skb;	/* message being filled */
	void *hdr;
	struct nlattr *meta;
	void *data;		/* this message's data, checksummed at send */
	u32 data_len;
	char *path;		/* PATH_MAX scratch for d_path() */
	struct page **pages;	/* CKPT_PAGES_RUN_MAX page pointers */
};

int ckpt_stream_open(struct ckpt_stream *s, struct net *net, u32 timeout_ms,
		     struct netlink_ext_ack *extack);
void ckpt_stream_close(struct ckpt_stream *s);
int ckpt_stream_begin(struct ckpt_stream *s, u32 pid);
int ckpt_stream_end(struct ckpt_stream *s);
void ckpt_stream_abort(struct ckpt_stream *s, u32 reason, int err,
		       const char *why);
void ckpt_rec_init(struct ckpt_stream *s, struct ckpt_rec *rec, u32 type,
		   u32 parent, u64 data_len);
int ckpt_frag_begin(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len);
int ckpt_meta_end(struct ckpt_stream *s);
void *ckpt_frag_data(struct ckpt_stream *s, struct ckpt_rec *rec, u32 len);
int ckpt_frag_send(struct ckpt_stream *s);

/* checkpoint.c: record producers. */
int ckpt_checkpoint_task(struct ckpt_stream *s, struct task_struct *task);

/* restart.c */
int ckpt_restart_init(void);
void ckpt_restart_exit(void);
void ckpt_restart_release_port(struct net *net, u32 portid);

#endif /* _CKPT_INTERNAL_H */
