/// CRC-32C of a concatenation from the CRCs of its parts, so a byte is checksummed once
/// even when it belongs to several checksummed ranges (a record's data is in the record's
/// CRC, the file's CRC and the stream checksum).
///
/// `combine(crc(A), crc(B), len(B)) == crc(A ++ B)`: zlib's `crc32_combine` (polynomial
/// arithmetic modulo P over GF(2)), for the Castagnoli polynomial. O(log len(B)) small
/// multiplications, no table but the 64 powers x^(2^k) built once.
public enum CRC32CCombine {
    /// The reflected Castagnoli polynomial.
    static let poly: UInt32 = 0x82F6_3B78

    /// a(x) * b(x) mod P(x), bit-reflected (x^0 is bit 31).
    @inline(__always)
    static func multiply(_ a: UInt32, _ b: UInt32) -> UInt32 {
        var a = a, b = b, product: UInt32 = 0
        while a != 0 {
            if a & 0x8000_0000 != 0 { product ^= b }
            a <<= 1
            b = b & 1 != 0 ? (b >> 1) ^ poly : b >> 1
        }
        return product
    }

    /// x^(2^k) mod P for k in 0..<64.
    static let powers: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 64)
        var p: UInt32 = 1 << 30  // x^1
        for k in 0..<64 {
            table[k] = p
            p = multiply(p, p)
        }
        return table
    }()

    /// x^(8 * n) mod P: the operator that shifts a CRC register past n zero bytes.
    static func shiftOperator(bytes n: UInt64) -> UInt32 {
        var p: UInt32 = 1 << 31  // x^0
        var n = n, k = 3
        while n != 0 {
            if n & 1 != 0 { p = multiply(powers[k & 63], p) }
            n >>= 1
            k += 1
        }
        return p
    }

    /// The operator that shifts a CRC register past `length` zero bytes.
    public struct Shift: Sendable, Equatable {
        public let length: Int
        let `operator`: UInt32

        public init(length: Int) {
            self.length = length
            `operator` = CRC32CCombine.shiftOperator(bytes: UInt64(length))
        }
    }

    /// The shift of the last length asked for: a stream's fragments are mostly of one length,
    /// so folding each one's CRC into a running one costs one multiplication, not the one
    /// per set bit of the length that making the operator takes (on the listener's receive
    /// thread, once per fragment).
    public struct ShiftCache: Sendable {
        private var last = Shift(length: 0)
        public init() {}

        public mutating func shift(length: Int) -> Shift {
            if last.length != length { last = Shift(length: length) }
            return last
        }
    }

    /// CRC-32C of A ++ B, given crc(A), crc(B) and the length of B.
    public static func combine(_ crcA: UInt32, _ crcB: UInt32, lengthB: UInt64) -> UInt32 {
        lengthB == 0 ? crcA : multiply(shiftOperator(bytes: lengthB), crcA) ^ crcB
    }
}
