/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the ckpt-ktest files share: raw generic netlink (message building,
 * attribute walking, one request and its ack), CRC-32C, reading images.
 * No libnl: the tests check the kernel against the protocol document, not
 * against a library that shares our assumptions.
 */
#ifndef CKPT_KTEST_H
#define CKPT_KTEST_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "../../kernel-patch/include/uapi/linux/ckpt.h"

#define BUF_SIZE (256 * 1024)

#define MAXA 64

struct msg {
	union {
		struct nlmsghdr nh;
		char buf[BUF_SIZE];
	};
	struct nlattr *nest;
};

/* The ckpt family's id, resolved by resolve_family(). */
extern int fam_id;
/* The last request's extack text and offset/missing-attribute type. */
extern char last_extack[512];
extern uint32_t last_offs, last_miss;

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
void crc_init(void);
uint32_t crc_update(uint32_t crc, const void *p, size_t n);
void msg_init(struct msg *m, int type, int cmd, int flags);
void put(struct msg *m, int type, const void *data, size_t len);
void parse(struct nlattr **tb, const void *p, int len);
int nl_open(int rcvbuf);
int request(int fd, struct msg *m, struct msg *reply);
/* Set by a command: sees each reply-seq message first; nonzero: it took it (not the reply). */
extern int (*request_event)(struct nlmsghdr *nh);
int resolve_family(int fd);
const char *errname(int err);
void print_error(int err);
int ack_error(struct nlmsghdr *nh);
const char *abort_reason_name(uint32_t reason);
char *read_file(const char *path, size_t *len);

static inline void put_u32(struct msg *m, int type, uint32_t v) { put(m, type, &v, 4); }
static inline void put_u64(struct msg *m, int type, uint64_t v) { put(m, type, &v, 8); }
static inline void *adata(const struct nlattr *a) { return (char *)a + NLA_HDRLEN; }
static inline int alen(const struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }
static inline uint32_t get_u32(const struct nlattr *a) { uint32_t v; memcpy(&v, adata(a), 4); return v; }
static inline uint64_t get_u64(const struct nlattr *a) { uint64_t v; memcpy(&v, adata(a), 8); return v; }
static inline void *gen_attrs(const struct nlmsghdr *nh) { return (char *)NLMSG_DATA(nh) + GENL_HDRLEN; }
static inline int gen_len(const struct nlmsghdr *nh) { return nh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN; }
static inline int gen_cmd(const struct nlmsghdr *nh) { return ((struct genlmsghdr *)NLMSG_DATA(nh))->cmd; }

/* Each netlink message of an image file (a sink's PREFIX-CRID.img). */
#define for_each_msg(nh, buf, len)					\
	for (nh = (void *)(buf); (char *)nh + NLMSG_HDRLEN <= (buf) + (len) && \
	     nh->nlmsg_len >= NLMSG_HDRLEN &&				\
	     (char *)nh + nh->nlmsg_len <= (buf) + (len);		\
	     nh = (void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len)))

/* The subcommands, each in its own file. */
int cmd_sink(int argc, char **argv);
int cmd_restart(int argc, char **argv);

#endif
