import CkptProtocol

/// A CRC-32C that can be extended by a part whose CRC is already known, and by bytes.
/// Starts as the CRC of nothing (0).
struct CombinedCRC {
    private(set) var value: UInt32 = 0
    private(set) var length: UInt64 = 0

    init() {}

    /// Appends a part of `length` bytes whose CRC-32C is `crc`.
    mutating func append(crc: UInt32, length: UInt64) {
        value = CRC32CCombine.combine(value, crc, lengthB: length)
        self.length += length
    }

    /// Appends bytes (checksummed here: use for small parts).
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var c = CRC32C()
        c.update(bytes)
        append(crc: c.value, length: UInt64(bytes.count))
    }
}
