// SPDX-License-Identifier: GPL-2.0
/*
 * The capture sink: at most one registered netlink port per network
 * namespace. The kernel forgets it when that socket closes (the
 * NETLINK_URELEASE notifier), so a new listener can take over, and a stream
 * notices that its sink went away because the registration's generation
 * changed.
 */
#include <linux/netlink.h>
#include <linux/net.h>
#include <linux/notifier.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "internal.h"

struct ckpt_net {
	spinlock_t lock;	/* protects portid, gen and socks */
	u32 portid;		/* 0: no sink */
	u64 gen;		/* changes on every register */
	struct list_head socks;	/* idle stream sockets, struct ckpt_sock */
};

static unsigned int ckpt_net_id __read_mostly;
static atomic64_t ckpt_sink_gen = ATOMIC64_INIT(0);

static struct ckpt_net *ckpt_net(struct net *net)
{
	return net_generic(net, ckpt_net_id);
}

int ckpt_sink_get(struct net *net, u32 *portid, u64 *gen)
{
	struct ckpt_net *cn = ckpt_net(net);

	spin_lock_bh(&cn->lock);
	*portid = cn->portid;
	*gen = cn->gen;
	spin_unlock_bh(&cn->lock);
	return *portid ? 0 : -ENOTCONN;
}

bool ckpt_sink_is(struct net *net, u32 portid, u64 gen)
{
	struct ckpt_net *cn = ckpt_net(net);
	bool same;

	spin_lock_bh(&cn->lock);
	same = cn->portid == portid && cn->gen == gen;
	spin_unlock_bh(&cn->lock);
	return same;
}

int ckpt_sink_register(struct net *net, u32 portid,
		       struct netlink_ext_ack *extack)
{
	struct ckpt_net *cn = ckpt_net(net);
	int err = 0;

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
		cn->gen = atomic64_inc_return(&ckpt_sink_gen);
	}
	spin_unlock_bh(&cn->lock);
	return err;
}

int ckpt_sink_unregister(struct net *net, u32 portid,
			 struct netlink_ext_ack *extack)
{
	struct ckpt_net *cn = ckpt_net(net);
	int err = 0;

	spin_lock_bh(&cn->lock);
	if (!cn->portid || cn->portid != portid) {
		NL_SET_ERR_MSG(extack, "this socket is not the registered sink");
		err = -ENOENT;
	} else {
		cn->portid = 0;
	}
	spin_unlock_bh(&cn->lock);
	return err;
}

/*
 * Stream sockets are kept per netns and reused, never released by a
 * request: releasing a NETLINK_GENERIC socket calls genl_release(), which
 * takes genl's cb_lock for reading, and a request already holds it; with
 * a writer waiting (genl_unregister_family() at module unload) that second
 * read would deadlock. They are released when the netns goes away or the
 * module unloads, when no request runs.
 */
struct ckpt_sock *ckpt_sock_get(struct net *net)
{
	struct ckpt_net *cn = ckpt_net(net);
	struct ckpt_sock *cs;

	spin_lock_bh(&cn->lock);
	cs = list_first_entry_or_null(&cn->socks, struct ckpt_sock, node);
	if (cs)
		list_del(&cs->node);
	spin_unlock_bh(&cn->lock);
	if (cs)
		return cs;

	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	if (!cs)
		return NULL;
	if (sock_create_kern(net, PF_NETLINK, SOCK_RAW, NETLINK_GENERIC,
			     &cs->sock)) {
		kfree(cs);
		return NULL;
	}
	return cs;
}

void ckpt_sock_put(struct net *net, struct ckpt_sock *cs)
{
	struct ckpt_net *cn = ckpt_net(net);

	spin_lock_bh(&cn->lock);
	list_add(&cs->node, &cn->socks);
	spin_unlock_bh(&cn->lock);
}

static int ckpt_netlink_notify(struct notifier_block *nb, unsigned long event,
			       void *ptr)
{
	struct netlink_notify *n = ptr;
	struct ckpt_net *cn;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !n->portid)
		return NOTIFY_DONE;

	cn = ckpt_net(n->net);
	spin_lock_bh(&cn->lock);
	if (cn->portid == n->portid)
		cn->portid = 0;
	spin_unlock_bh(&cn->lock);

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
	cn->gen = 0;
	INIT_LIST_HEAD(&cn->socks);
	return 0;
}

static void __net_exit ckpt_net_exit(struct net *net)
{
	struct ckpt_net *cn = ckpt_net(net);
	struct ckpt_sock *cs, *tmp;

	list_for_each_entry_safe(cs, tmp, &cn->socks, node) {
		list_del(&cs->node);
		sock_release(cs->sock);
		kfree(cs);
	}
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
