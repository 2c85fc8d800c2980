import CCkptUAPI

/// Splits one record into the fragments the protocol sends it as: at most
/// `maxDataPerFragment` data bytes each, meta in the first only, consecutive seqs.
///
/// ```
///  data:   |<-------- N -------->|<-------- N -------->|<-- rest -->|
///  frag:   seq s, offset 0, meta  seq s+1, offset N     seq s+2, offset 2N
///  (no data: one fragment, offset 0, data-len 0, meta)
/// ```
/// Zero copy: fragments' `data` are slices of the caller's `data`. With `dataChecksums`
/// each fragment's data is checksummed once, for its `CKPT_A_DATA_CHECKSUM`.
public struct Fragmenter: Sendable {
    public let maxDataPerFragment: Int
    /// Each fragment with data carries its CRC-32C (`dataChecksum`), as the kernel's do.
    public let dataChecksums: Bool

    /// - Precondition: 1 ... `CKPT_DATA_MAX`.
    public init(maxDataPerFragment: Int = Int(CKPT_DATA_MAX), dataChecksums: Bool = false) {
        precondition(maxDataPerFragment >= 1 && maxDataPerFragment <= Int(CKPT_DATA_MAX),
                     "fragment size must be 1 ... CKPT_DATA_MAX")
        self.maxDataPerFragment = maxDataPerFragment
        self.dataChecksums = dataChecksums
    }

    /// Messages a record of `dataLength` bytes takes. O(1).
    public func fragmentCount(dataLength: Int) -> Int {
        dataLength == 0 ? 1 : (dataLength + maxDataPerFragment - 1) / maxDataPerFragment
    }

    /// Calls `body` with each fragment in order, seqs from `firstSeq`. Returns the seq after
    /// the last fragment. O(fragments) (O(bytes) with `dataChecksums`), no allocation.
    @discardableResult
    public func fragments(
        crid: UInt64, firstSeq: UInt32, type: RecordType, id: UInt32, parent: UInt32,
        meta: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, _ body: (RecordFragment) throws -> Void
    ) rethrows -> UInt32 {
        var seq = firstSeq
        var offset = 0
        repeat {
            let n = min(maxDataPerFragment, data.count - offset)
            let slice = n > 0 ? UnsafeRawBufferPointer(rebasing: data[offset..<(offset + n)])
                              : UnsafeRawBufferPointer(start: nil, count: 0)
            var sum: UInt32? = nil
            if dataChecksums, n > 0 {
                var c = CRC32C()
                c.update(slice)
                sum = c.value
            }
            try body(RecordFragment(
                crid: crid, seq: seq, type: type, id: id, parent: parent, dataLength: UInt64(data.count),
                dataOffset: UInt64(offset), meta: offset == 0 ? meta : nil, data: slice, dataChecksum: sum))
            seq &+= 1
            offset += n
        } while offset < data.count
        return seq
    }

    /// Encodes each fragment as one `CKPT_CMD_RECORD` message into `buffer` (emptied
    /// before each) and hands its bytes to `send`. Returns the seq after the last fragment.
    @discardableResult
    public func encode(
        crid: UInt64, firstSeq: UInt32, type: RecordType, id: UInt32, parent: UInt32,
        meta: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer,
        encoder: MessageEncoder, buffer: MessageBuffer, header: MessageHeader = .init(),
        _ send: (UnsafeRawBufferPointer) throws -> Void
    ) rethrows -> UInt32 {
        try fragments(crid: crid, firstSeq: firstSeq, type: type, id: id, parent: parent, meta: meta, data: data) {
            buffer.removeAll()
            encoder.record($0, header: header, into: buffer)
            try send(buffer.bytes)
        }
    }
}
