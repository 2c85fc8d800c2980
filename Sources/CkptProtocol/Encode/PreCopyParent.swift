import CCkptUAPI

/// What a checkpoint that builds on a pre-copy tells the kernel: the pre-copy's crid and the
/// address ranges written since it (`CKPT_A_PARENT_CRID`, `CKPT_A_DIRTY_RANGES`). Present
/// pages in the ranges come as data, the others as parent-pages records.
public struct PreCopyParent: Equatable, Sendable {
    public var crid: UInt64
    /// Page-aligned, ascending, disjoint, non-empty; at most `maxRanges`.
    public var ranges: [Range<UInt64>]

    public static let maxRanges = Int(CKPT_DIRTY_RANGES_MAX)

    public init(crid: UInt64, ranges: [Range<UInt64>]) {
        self.crid = crid
        self.ranges = ranges
    }

    /// The attribute's value: little-endian u64 pairs (start, end).
    public func encodedRanges() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ranges.count * 16)
        for r in ranges {
            withUnsafeBytes(of: r.lowerBound.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: r.upperBound.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }
}
