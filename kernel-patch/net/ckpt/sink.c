// SPDX-License-Identifier: GPL-2.0
/*
 * The capture sink: at most one registered netlink socket per network
 * namespace. The registration holds the socket itself (streams are queued
 * on it, never sent to its port number, which another socket may take
 * once it closed), the registering task's credentials (a stream goes to
 * the sink only if they may checkpoint the target, access.c) and its
 * thread group (which cannot be checkpointed into its own sink). The
 * kernel forgets the sink when its socket closes (NETLINK_URELEASE) or on
 * unregister; a stream notices because its held registration is no
 * longer the namespace's (ckpt_sink_is()).
 */
#include <linux/cred.h>
#include <linux/netlink.h>
#include <linux/net.h>
#include <linux/notifier.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "internal.h"

struct ckpt_net {
	spinlock_t lock;	/* protects portid and sink */
	u32 portid;		/* 0: no sink */
	struct ckpt_sink sink;
};

static unsigned int ckpt_net_id __read_mostly;
static atomic64_t ckpt_sink_gen = ATOMIC64_INIT(0);

static struct ckpt_net *ckpt_net(struct net *net)
{
	return net_generic(net, ckpt_net_id);
}

static void ckpt_sink_hold(struct ckpt_sink *sink)
{
	sock_hold(sink->sk);
	get_cred(sink->cred);
	get_pid(sink->tgid);
}

/* Drops what @sink holds; a zeroed @sink holds nothing. */
void ckpt_sink_put(struct ckpt_sink *sink)
{
	if (!sink->sk)
		return;
	sock_put(sink->sk);
	put_cred(sink->cred);
	put_pid(sink->tgid);
	memset(sink, 0, sizeof(*sink));
}

/* The namespace's sink, held, for a stream. */
int ckpt_sink_get(struct net *net, struct ckpt_sink *sink,
		  struct netlink_ext_ack *extack)
{
	struct ckpt_net *cn = ckpt_net(net);

	spin_lock_bh(&cn->lock);
	*sink = cn->sink;
	if (sink->sk)
		ckpt_sink_hold(sink);
	spin_unlock_bh(&cn->lock);
	if (!sink->sk) {
		NL_SET_ERR_MSG(extack, "no capture sink registered in this network namespace");
		return -ENOTCONN;
	}
	return 0;
}

/* @sink is still the namespace's registration and its socket is open. */
bool ckpt_sink_is(struct net *net, const struct ckpt_sink *sink)
{
	struct ckpt_net *cn = ckpt_net(net);
	bool same;

	spin_lock_bh(&cn->lock);
	same = cn->sink.sk == sink->sk && cn->sink.gen == sink->gen;
	spin_unlock_bh(&cn->lock);
	return same && !sock_flag(sink->sk, SOCK_DEAD);
}

int ckpt_sink_register(struct net *net, struct sk_buff *skb, u32 portid,
		       struct netlink_ext_ack *extack)
{
	struct ckpt_net *cn = ckpt_net(net);
	struct ckpt_sink sink = {
		.sk = NETLINK_CB(skb).sk,
		.gen = atomic64_inc_return(&ckpt_sink_gen),
		.cred = current_cred(),
		.tgid = task_tgid(current),
	};
	int err = 0;

	ckpt_sink_hold(&sink);
	spin_lock_bh(&cn->lock);
	if (cn->portid == portid) {
		NL_SET_ERR_MSG(extack, "this socket is already the sink");
		err = -EBUSY;
	} else if (cn->portid) {
		NL_SET_ERR_MSG_FMT(extack,
				   "a sink is already registered in this network namespace (port %u)",
				   cn->portid);
		err = -EBUSY;
	} else {
		cn->portid = portid;
		swap(cn->sink, sink);
	}
	spin_unlock_bh(&cn->lock);
	ckpt_sink_put(&sink);	/* ours on failure, the empty slot's on success */
	return err;
}

/* Forgets @portid's registration; ENOENT if it is not the sink. */
static int ckpt_sink_forget(struct net *net, u32 portid)
{
	struct ckpt_net *cn = ckpt_net(net);
	struct ckpt_sink old = {};
	int err = -ENOENT;

	spin_lock_bh(&cn->lock);
	if (cn->portid && cn->portid == portid) {
		cn->portid = 0;
		swap(cn->sink, old);
		err = 0;
	}
	spin_unlock_bh(&cn->lock);
	ckpt_sink_put(&old);
	return err;
}

int ckpt_sink_unregister(struct net *net, u32 portid,
			 struct netlink_ext_ack *extack)
{
	int err = ckpt_sink_forget(net, portid);

	if (err)
		NL_SET_ERR_MSG(extack, "this socket is not the registered sink");
	return err;
}

static int ckpt_netlink_notify(struct notifier_block *nb, unsigned long event,
			       void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !n->portid)
		return NOTIFY_DONE;

	ckpt_sink_forget(n->net, n->portid);
	ckpt_restart_release_port(n->net, n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block ckpt_netlink_notifier = {
	.notifier_call = ckpt_netlink_notify,
};

static int __net_init ckpt_net_init(struct net *net)
{
	struct ckpt_net *cn = ckpt_net(net);

	spin_lock_init(&cn->lock);
	cn->portid = 0;
	memset(&cn->sink, 0, sizeof(cn->sink));
	return 0;
}

static void __net_exit ckpt_net_exit(struct net *net)
{
	struct ckpt_net *cn = ckpt_net(net);

	/* Its sockets are gone, so is the sink; at module exit, drop it. */
	ckpt_sink_put(&cn->sink);
}

static struct pernet_operations ckpt_net_ops = {
	.init = ckpt_net_init,
	.exit = ckpt_net_exit,
	.id   = &ckpt_net_id,
	.size = sizeof(struct ckpt_net),
};

int ckpt_sink_init(void)
{
	int err;

	err = register_pernet_subsys(&ckpt_net_ops);
	if (err)
		return err;
	err = netlink_register_notifier(&ckpt_netlink_notifier);
	if (err)
		unregister_pernet_subsys(&ckpt_net_ops);
	return err;
}

void ckpt_sink_exit(void)
{
	netlink_unregister_notifier(&ckpt_netlink_notifier);
	unregister_pernet_subsys(&ckpt_net_ops);
}
