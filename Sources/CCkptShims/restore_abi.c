/* The numbers ckpt_restore_abi.h writes out instead of including the headers that define
 * them (it says why), held to those headers here: a build on a libc that numbers them
 * otherwise fails. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "ckpt_restore_abi.h"

_Static_assert(CKPT_IPPROTO_TCP == IPPROTO_TCP, "IPPROTO_TCP");
_Static_assert(CKPT_IPPROTO_UDP == IPPROTO_UDP, "IPPROTO_UDP");
_Static_assert(CKPT_IPPROTO_IPV6 == IPPROTO_IPV6, "IPPROTO_IPV6");
_Static_assert(CKPT_IPV6_V6ONLY == IPV6_V6ONLY, "IPV6_V6ONLY");
_Static_assert(CKPT_TCP_NODELAY == TCP_NODELAY, "TCP_NODELAY");
_Static_assert(CKPT_F_ADD_SEALS == F_ADD_SEALS, "F_ADD_SEALS");
_Static_assert(CKPT_F_GET_SEALS == F_GET_SEALS, "F_GET_SEALS");
_Static_assert(CKPT_F_SEAL_SEAL == F_SEAL_SEAL, "F_SEAL_SEAL");
_Static_assert(CKPT_F_SEAL_SHRINK == F_SEAL_SHRINK, "F_SEAL_SHRINK");
_Static_assert(CKPT_F_SEAL_GROW == F_SEAL_GROW, "F_SEAL_GROW");
_Static_assert(CKPT_F_SEAL_WRITE == F_SEAL_WRITE, "F_SEAL_WRITE");
_Static_assert(CKPT_F_SEAL_FUTURE_WRITE == F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE");
