/* crcbench: CRC-32C throughput on its own. Measures ckpt's own implementation (the
 * listener's shim, Sources/CCkptShims/crc32c.c, compiled in unchanged) and a plain
 * _mm_crc32_u64 loop, over a buffer that fits in cache and one that does not.
 * Prints: crc <impl> <buffer> <GB/s>. */
#include "common.h"
#include <nmmintrin.h>
#include "../../Sources/CCkptShims/include/ckpt_shims.h"

__attribute__((target("sse4.2")))
static uint32_t plain(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return (uint32_t)c;
}

static double run(uint32_t (*f)(uint32_t, const void *, size_t), const uint8_t *buf, size_t size, size_t chunk,
		  uint64_t total, uint32_t *out)
{
	uint32_t c = ~0u;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), done = 0;
	while (done < total) {
		for (size_t off = 0; off < size; off += chunk)
			c = f(c, buf + off, chunk);
		done += size;
	}
	uint64_t t1 = now_ns(CLOCK_MONOTONIC);
	*out = ~c;
	return (double)done / (double)(t1 - t0);
}

int main(void)
{
	size_t big = 256u << 20;
	uint8_t *buf = aligned_alloc(4096, big);
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	struct { const char *name; uint32_t (*f)(uint32_t, const void *, size_t); } impl[] = {
		{ "ckpt_shim_sse42", ckpt_crc32c_update_hardware },
		{ "ckpt_shim_fold", ckpt_crc32c_update_fold },
		{ "ckpt_shim_chosen", ckpt_crc32c_update },
		{ "plain_mm_crc32_u64", plain },
		{ "ckpt_shim_table", ckpt_crc32c_update_portable },
	};
	/* 32 KiB fragments, as the listener sees them. */
	for (unsigned i = 0; i < sizeof(impl) / sizeof(impl[0]); i++) {
		uint32_t a, b;
		uint64_t scale = impl[i].f == ckpt_crc32c_update_portable ? 1 : 8;
		double hot = run(impl[i].f, buf, 1u << 20, 32768, scale * (1ull << 30), &a);
		double cold = run(impl[i].f, buf, big, 32768, scale * (1ull << 30), &b);
		printf("crc %s cache_1MiB %.2f\n", impl[i].name, hot);
		printf("crc %s memory_256MiB %.2f\n", impl[i].name, cold);
		(void)a; (void)b;
	}
	/* Cross-check: the shim's two paths and the plain loop agree ("123456789" -> e3069283). */
	uint32_t x = ~ckpt_crc32c_update(~0u, "123456789", 9), y = ~plain(~0u, "123456789", 9),
		 z = ~ckpt_crc32c_update_portable(~0u, "123456789", 9),
		 h = ~ckpt_crc32c_update_hardware(~0u, "123456789", 9);
	/* The folding only starts at 512 bytes: it is checked against the table on the MiB. */
	int ok = x == 0xe3069283 && x == y && y == z && z == h &&
		 ckpt_crc32c_update_fold(~0u, buf, 1u << 20) == ckpt_crc32c_update_portable(~0u, buf, 1u << 20);
	printf("crc check 0x%08x 0x%08x 0x%08x 0x%08x %s\n", x, y, z, h, ok ? "ok" : "MISMATCH");
	printf("crc-chosen %s\n", ckpt_crc32c_implementation());
	return ok ? 0 : 1;
}
