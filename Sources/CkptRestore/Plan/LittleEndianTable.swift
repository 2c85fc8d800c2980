/// The entries of a record's data made of little-endian u64 words, `wordsPerEntry` to an
/// entry (sigactions: 4, rlimits: 2). `nil` when the data is not a whole number of entries.
func littleEndianEntries(_ data: [UInt8], wordsPerEntry: Int) -> [[UInt64]]? {
    let size = wordsPerEntry * 8
    guard size > 0, data.count % size == 0 else { return nil }
    return stride(from: 0, to: data.count, by: size).map { at in
        (0..<wordsPerEntry).map { w in
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(data[at + w * 8 + i]) << (8 * UInt64(i)) }
            return v
        }
    }
}
