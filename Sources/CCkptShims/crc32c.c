/* CRC-32C for the listener's hot path: every captured byte goes through it, so it must
 * run at memory speed. The SSE4.2 path does 8 bytes per instruction in three lanes at
 * once, or folds 256 bytes at a time with AVX-512's vpclmulqdq; the table path
 * (slice-by-8) is the portable fallback and the reference the tests
 * compare against. Which one runs is measured once, not assumed: a CPU that has the
 * crc32 instruction may still run it slowly (an emulator: qemu's TCG computes it bit by
 * bit, 4x slower than the table there; docs/benchmarks.md, "CRC-32C by measurement"). */
#include "ckpt_shims.h"
#include <pthread.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static uint32_t table[8][256];
static int table_ready;

static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int s = 1; s < 8; s++)
			table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xff];
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_table(uint32_t crc, const unsigned char *p, size_t len)
{
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		build_table();
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= crc;
		crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^
		      table[5][(v >> 16) & 0xff] ^ table[4][(v >> 24) & 0xff] ^
		      table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
		      table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
/* The crc32 instruction has a 3-cycle latency and a throughput of one per cycle, so one
 * dependent chain runs at a third of what the CPU can do. Long buffers are cut into three
 * lanes checksummed at once, then joined: the register after A || B is the register after
 * A shifted over |B| zero bytes, xor B's register from 0 (CRCs are linear). The shift is a
 * 32x32 GF(2) matrix, applied through four 256-entry tables made once (Mark Adler's
 * method, as in zlib and his crc32c.c). 3 x 8 KiB lanes for fragments of 24 KiB and up,
 * 3 x 256 bytes below that. */
#define LANE_LONG 8192
#define LANE_SHORT 256

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;
	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_times(mat, mat[n]);
}

/* The operator that appends len zero bytes (len a power of two) to a raw register. */
static void zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32], row = 1;
	odd[0] = 0x82F63B78u; /* one zero bit: the reflected polynomial */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd); /* two bits */
	gf2_square(odd, even); /* four bits */
	for (;;) {
		gf2_square(even, odd); /* one byte, then four, 16... */
		len >>= 1;
		if (!len)
			return;
		gf2_square(odd, even); /* two bytes, then eight... */
		len >>= 1;
		if (!len)
			break;
	}
	memcpy(even, odd, sizeof(odd));
}

/* The operator is linear: an entry is the xor of the operator's rows for its set bits, so
 * each one is its value without its lowest set bit xor that bit's row (one xor an entry;
 * built bit by bit, the two tables were ~550,000 instructions of every process's start,
 * callgrind, session 47). */
static void zeros_tables(uint32_t t[4][256], size_t len)
{
	uint32_t op[32];
	zeros_op(op, len);
	for (int k = 0; k < 4; k++) {
		t[k][0] = 0;
		for (uint32_t n = 1; n < 256; n++)
			t[k][n] = t[k][n & (n - 1)] ^ op[8 * k + __builtin_ctz(n)];
	}
}

static void make_shift_tables(void)
{
	zeros_tables(shift_long, LANE_LONG);
	zeros_tables(shift_short, LANE_SHORT);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t crc)
{
	return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

__attribute__((target("sse4.2")))
static uint64_t lanes3(uint64_t c, const unsigned char **pp, size_t *lenp, size_t lane, uint32_t t[4][256])
{
	const unsigned char *p = *pp;
	size_t len = *lenp;
	while (len >= 3 * lane) {
		uint64_t c1 = 0, c2 = 0;
		for (const unsigned char *end = p + lane; p < end; p += 8) {
			uint64_t a, b, d;
			memcpy(&a, p, 8);
			memcpy(&b, p + lane, 8);
			memcpy(&d, p + 2 * lane, 8);
			c = __builtin_ia32_crc32di(c, a);
			c1 = __builtin_ia32_crc32di(c1, b);
			c2 = __builtin_ia32_crc32di(c2, d);
		}
		c = shift(t, (uint32_t)c) ^ (uint32_t)c1;
		c = shift(t, (uint32_t)c) ^ (uint32_t)c2;
		p += 2 * lane;
		len -= 3 * lane;
	}
	*pp = p;
	*lenp = len;
	return c;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * LANE_SHORT) {
		pthread_once(&shift_once, make_shift_tables);
		c = lanes3(c, &p, &len, LANE_LONG, shift_long);
		c = lanes3(c, &p, &len, LANE_SHORT, shift_short);
	}
	while (len >= 8) {
		uint64_t a;
		memcpy(&a, p, 8);
		c = __builtin_ia32_crc32di(c, a);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

/* Carry-less multiplication folds the data instead of feeding it through crc32 (Intel's
 * "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", 2009), four 16-byte
 * lanes per AVX-512 vpclmulqdq: four 64-byte accumulators, each replaced every 256 bytes
 * by itself times x^2048 mod P (two multiplications per lane, its low and high halves)
 * xor the next 64 bytes of data; then folded into one by x^512, and its four lanes into
 * one by x^128. What is left, 16 bytes whose CRC equals that of everything before them
 * (a CRC depends on the data only mod P), goes through crc32 with the tail. The constant
 * of a fold over D bits is x^(D-1) mod P for the high half and x^(D+63) mod P for the low
 * half, bit-reflected to 64 bits as the data is (tools/bench/crc-fold-constants.py derives
 * them and checks the method against the table). 2.2x the three crc32 lanes on this
 * project's host (docs/benchmarks.md, "CRC-32C by folding"). */
#define FOLD_TARGET "sse4.2,pclmul,avx512f,vpclmulqdq"
#define FOLD512(x, k) \
	_mm512_xor_si512(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11))
#define FOLD128(x, k) _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11))

__attribute__((target(FOLD_TARGET)))
static uint32_t crc32c_fold(uint32_t crc, const unsigned char *p, size_t len)
{
	if (len < 512)
		return crc32c_sse42(crc, p, len);
	/* _mm_set_epi64x takes the high half first. */
	const __m512i k2048 =
		_mm512_broadcast_i32x4(_mm_set_epi64x(0x1426a81500000000, (long long)0xe9a5d8be00000000));
	const __m512i k512 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x75bba45b00000000, 0x1c19243b00000000));
	const __m128i k128 = _mm_set_epi64x(0x3171d43000000000, 0x3743f7bd00000000);
	__m512i x0 = _mm512_loadu_si512(p), x1 = _mm512_loadu_si512(p + 64);
	__m512i x2 = _mm512_loadu_si512(p + 128), x3 = _mm512_loadu_si512(p + 192);

	/* The register goes in as the first four bytes of data would (a reflected CRC). */
	x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
	p += 256;
	len -= 256;
	while (len >= 256) {
		x0 = _mm512_xor_si512(FOLD512(x0, k2048), _mm512_loadu_si512(p));
		x1 = _mm512_xor_si512(FOLD512(x1, k2048), _mm512_loadu_si512(p + 64));
		x2 = _mm512_xor_si512(FOLD512(x2, k2048), _mm512_loadu_si512(p + 128));
		x3 = _mm512_xor_si512(FOLD512(x3, k2048), _mm512_loadu_si512(p + 192));
		p += 256;
		len -= 256;
	}
	__m512i x = _mm512_xor_si512(FOLD512(x0, k512), x1);
	x = _mm512_xor_si512(FOLD512(x, k512), x2);
	x = _mm512_xor_si512(FOLD512(x, k512), x3);
	for (; len >= 64; p += 64, len -= 64)
		x = _mm512_xor_si512(FOLD512(x, k512), _mm512_loadu_si512(p));
	__m128i r = _mm512_extracti32x4_epi32(x, 0);
	r = _mm_xor_si128(FOLD128(r, k128), _mm512_extracti32x4_epi32(x, 1));
	r = _mm_xor_si128(FOLD128(r, k128), _mm512_extracti32x4_epi32(x, 2));
	r = _mm_xor_si128(FOLD128(r, k128), _mm512_extracti32x4_epi32(x, 3));
	for (; len >= 16; p += 16, len -= 16)
		r = _mm_xor_si128(FOLD128(r, k128), _mm_loadu_si128((const __m128i *)p));
	uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(r));
	c = __builtin_ia32_crc32di(c, (uint64_t)_mm_extract_epi64(r, 1));
	return crc32c_sse42((uint32_t)c, p, len);
}

static int has_fold(void)
{
	return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul") &&
	       __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
}
#endif

/* The implementation ckpt_crc32c_update runs, chosen at its first call (0: not yet). */
enum { IMPL_TABLE = 1, IMPL_SSE42, IMPL_FOLD };
static int chosen;

int ckpt_crc32c_prefer_hardware(uint64_t hardware_ns, uint64_t table_ns)
{
	return hardware_ns <= table_ns;
}

#if defined(__x86_64__)
static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The fastest of three runs over 8 KiB (the three-lane path of 256-byte lanes; a few us on
 * this project's host, ~0.1 ms under TCG), after one untimed run of each to build their
 * tables. Every process pays it once before its first checksum: over 32 KiB, until session
 * 47, it was ~1.1 million instructions of a 1 MiB restore's ~10 (callgrind). */
static uint64_t time_crc(uint32_t (*f)(uint32_t, const unsigned char *, size_t), const unsigned char *buf, size_t len)
{
	uint64_t best = UINT64_MAX;
	volatile uint32_t sink = f(0, buf, len);

	for (int i = 0; i < 3; i++) {
		uint64_t t0 = now_ns();

		sink = f(sink, buf, len);
		uint64_t t = now_ns() - t0;
		if (t < best)
			best = t;
	}
	return best;
}

/* The faster hardware path (three crc32 lanes, or folding where the CPU has AVX-512's
 * vpclmulqdq) against the table. */
static void choose(void)
{
	static unsigned char buf[8192];
	int pick = IMPL_TABLE;

	if (__builtin_cpu_supports("sse4.2")) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)(i * 131 + 7);
		uint64_t hw = time_crc(crc32c_sse42, buf, sizeof(buf));
		int hw_pick = IMPL_SSE42;
		if (has_fold()) {
			uint64_t fold = time_crc(crc32c_fold, buf, sizeof(buf));
			if (fold < hw) {
				hw = fold;
				hw_pick = IMPL_FOLD;
			}
		}
		uint64_t tab = time_crc(crc32c_table, buf, sizeof(buf));
		if (ckpt_crc32c_prefer_hardware(hw, tab))
			pick = hw_pick;
	}
	__atomic_store_n(&chosen, pick, __ATOMIC_RELEASE);
}
#endif

static int implementation(void)
{
	int c = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);

	if (c)
		return c;
#if defined(__x86_64__)
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, choose);
	return __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
#else
	__atomic_store_n(&chosen, IMPL_TABLE, __ATOMIC_RELEASE);
	return IMPL_TABLE;
#endif
}

int ckpt_crc32c_is_hardware(void)
{
	return implementation() != IMPL_TABLE;
}

const char *ckpt_crc32c_implementation(void)
{
	switch (implementation()) {
	case IMPL_FOLD:
		return "vpclmulqdq folding";
	case IMPL_SSE42:
		return "crc32 instruction";
	default:
		return "slice-by-8 table";
	}
}

int ckpt_crc32c_has_instruction(void)
{
#if defined(__x86_64__)
	return __builtin_cpu_supports("sse4.2");
#else
	return 0;
#endif
}

uint32_t ckpt_crc32c_update_hardware(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
	if (ckpt_crc32c_has_instruction())
		return crc32c_sse42(crc, data, len);
#endif
	return crc32c_table(crc, data, len);
}

uint32_t ckpt_crc32c_update_fold(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
	if (has_fold())
		return crc32c_fold(crc, data, len);
#endif
	return ckpt_crc32c_update_hardware(crc, data, len);
}

uint32_t ckpt_crc32c_update(uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__)
	switch (implementation()) {
	case IMPL_FOLD:
		return crc32c_fold(crc, data, len);
	case IMPL_SSE42:
		return crc32c_sse42(crc, data, len);
	}
#endif
	return crc32c_table(crc, data, len);
}

uint32_t ckpt_crc32c_update_portable(uint32_t crc, const void *data, size_t len)
{
	return crc32c_table(crc, data, len);
}
