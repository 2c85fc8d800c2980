#!/usr/bin/env python3
"""The folding constants of Sources/CCkptShims/crc32c.c (crc32c_fold), derived, and the
method checked against a plain table CRC-32C on random data.

  tools/bench/crc-fold-constants.py      # prints the constants; exits 1 if the check fails

Why the constants are what they are. A reflected CRC's register after data M depends
only on M(x) mod P, where byte 0's bit 0 is the highest power of x. A 16-byte block A
that lies D bits before a block B can therefore be replaced by anything congruent to
A(x) * x^D mod P, added into B. With A's low 64 register bits (the higher powers) as L
and its high 64 as H, A(x) = L(x) * x^64 + H(x). pclmulqdq multiplies two reflected
64-bit values and leaves the product one bit lower than a 128-bit register holds it, so
the constant that multiplies L is x^(D+63) mod P and the one for H is x^(D-1) mod P,
each bit-reflected to 64 bits. The folds used: D = 2048 (four 64-byte accumulators),
512 (one accumulator into the next) and 128 (one 16-byte lane into the next).
"""
import random
import sys

P = 0x11EDC6F41  # CRC-32C (Castagnoli), x^32 + ...


def pmod(a):
    while a.bit_length() > 32:
        a ^= P << (a.bit_length() - 33)
    return a


def reflect64(v):
    return int(format(v, "064b")[::-1], 2)


def constant(e):
    """x^e mod P, bit-reflected to 64 bits (the degree-31 term lands in bit 32)."""
    return reflect64(pmod(1 << e))


def fold_pair(d):
    return constant(d + 63), constant(d - 1)  # (low half's, high half's)


TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)


def crc_table(crc, data):
    for b in data:
        crc = (crc >> 8) ^ TABLE[(crc ^ b) & 0xFF]
    return crc


def clmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def fold(x, k):
    lo, hi = x & (2**64 - 1), x >> 64
    return clmul(lo, k[0]) ^ clmul(hi, k[1])


def crc_fold(crc, data):
    """crc32c_fold in Python, on 16-byte lanes: 16 accumulators of 16 bytes (the four
    64-byte ones), folded over 2048 bits; then lane by lane over 128 bits (the same sum as
    the C code's x^512 step followed by x^128 steps); the last 16 bytes and the tail by
    the table."""
    d = bytearray(data)
    for i in range(4):
        d[i] ^= (crc >> (8 * i)) & 0xFF
    lane = lambda off: int.from_bytes(d[off:off + 16], "little")
    k2048, k128 = fold_pair(2048), fold_pair(128)
    acc = [lane(16 * i) for i in range(16)]
    p = 256
    while len(d) - p >= 256:
        acc = [fold(acc[i], k2048) ^ lane(p + 16 * i) for i in range(16)]
        p += 256
    r = acc[0]
    for a in acc[1:]:
        r = fold(r, k128) ^ a
    while len(d) - p >= 16:
        r = fold(r, k128) ^ lane(p)
        p += 16
    return crc_table(crc_table(0, r.to_bytes(16, "little")), d[p:])


def main():
    for d in (2048, 512, 128):
        lo, hi = fold_pair(d)
        print(f"fold over {d:4d} bits: low half 0x{lo:016x}, high half 0x{hi:016x}")
    rng = random.Random(1)
    bad = 0
    for n in (512, 513, 575, 767, 768, 1000, 4096, 4096 + 64 + 16 + 3):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        crc = rng.getrandbits(32)
        if crc_fold(crc, data) != crc_table(crc, data):
            print(f"MISMATCH at {n} bytes")
            bad += 1
    print("folding equals the table" if not bad else f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
