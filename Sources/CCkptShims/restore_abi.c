/* The numbers ckpt_restore_abi.h writes out instead of including the headers that define
 * them (it says why), held to those headers here: a build on a libc that numbers them
 * otherwise fails. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "ckpt_restore_abi.h"

_Static_assert(CKPT_IPPROTO_TCP == IPPROTO_TCP, "IPPROTO_TCP");
_Static_assert(CKPT_IPPROTO_UDP == IPPROTO_UDP, "IPPROTO_UDP");
_Static_assert(CKPT_IPPROTO_IPV6 == IPPROTO_IPV6, "IPPROTO_IPV6");
_Static_assert(CKPT_IPV6_V6ONLY == IPV6_V6ONLY, "IPV6_V6ONLY");
_Static_assert(CKPT_TCP_NODELAY == TCP_NODELAY, "TCP_NODELAY");
