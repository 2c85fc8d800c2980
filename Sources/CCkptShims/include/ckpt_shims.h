/* C helpers that Swift cannot express, each small and named ckpt_*.
 * Why each exists is said beside it. */
#ifndef CKPT_SHIMS_H
#define CKPT_SHIMS_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli), raw update: crc is the running register (start with ~0u,
 * finish with ~crc). Uses the SSE4.2 crc32 instruction when the CPU has it (Swift has
 * no intrinsics for it), else a slicing-by-8 table. */
uint32_t ckpt_crc32c_update(uint32_t crc, const void *data, size_t len);

/* 1 if ckpt_crc32c_update runs on the hardware instruction (for benchmarks and logs). */
int ckpt_crc32c_is_hardware(void);

/* The portable table implementation alone: the reference the tests compare against. */
uint32_t ckpt_crc32c_update_portable(uint32_t crc, const void *data, size_t len);

#endif
