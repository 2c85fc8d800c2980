/* What Swift needs from the kernel's headers: netlink framing and the ckpt family.
 * ckpt.h is the one in this repository (kernel-patch/), not an installed copy. */
#ifndef CKPT_UAPI_SHIM_H
#define CKPT_UAPI_SHIM_H
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include "../../kernel-patch/include/uapi/linux/ckpt.h"
#endif
