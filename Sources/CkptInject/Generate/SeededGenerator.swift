/// The injector's only source of randomness: xoshiro256** seeded through SplitMix64, so
/// the same seed gives the same streams on every machine and Swift version (the standard
/// library's generator is neither seedable nor stable).
///
/// Not cryptographic. O(1) per draw, no allocation.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// A generator for a named sub-purpose (one record's data, one fault), independent of
    /// how many draws other purposes made: adding a draw elsewhere never shifts these bytes.
    public init(seed: UInt64, stream: UInt64, purpose: UInt64 = 0) {
        self.init(seed: seed ^ (stream &* 0xD6E8_FEB8_6659_FD93) ^ (purpose &* 0xA076_1D64_78BD_642F))
    }

    public mutating func next() -> UInt64 {
        func rotl(_ v: UInt64, _ k: UInt64) -> UInt64 { (v << k) | (v >> (64 - k)) }
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    /// A uniform value in `range` (deterministic: plain modulo, the bias is irrelevant here).
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % span)
    }

    /// Fills `buffer` with pseudo-random bytes, 8 at a time. O(n).
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var i = 0
        while i + 8 <= buffer.count {
            buffer.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < buffer.count {
            var last = next()
            while i < buffer.count {
                buffer[i] = UInt8(truncatingIfNeeded: last)
                last >>= 8
                i += 1
            }
        }
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}
