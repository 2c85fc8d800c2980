import CkptProtocol

/// A pages record whose data the walk handed over unchecked (`ImageRecordIterator
/// .deferPagesData(chunk:)`), so that the threads that consume the data checksum it, in
/// parallel, instead of the one walking thread: each records its chunk's CRC-32C here, and
/// `verify()`, once all have, confirms the record's footer CRC from the head's CRC (header,
/// meta, pad: computed by the walk), the chunks' (combined in order, no second pass) and the
/// data pad's zeros. The walk checks everything else of the record as before.
///
/// Chunk `i` is the data bytes `[i * chunkSize, min((i + 1) * chunkSize, dataLength))`.
///
/// `@unchecked Sendable`, sound because each chunk's slot is written by one thread (the one
/// handed that chunk) and read only by `verify()`, which the walking thread calls after it
/// has joined those threads (pthread_join orders their stores before its loads); `stored`
/// and `pad` are set and read by the walking thread alone.
public final class PendingRecordCheck: @unchecked Sendable {
    public let entry: ImageIndexEntry
    public let chunkSize: Int
    let path: String
    let head: CRC32C
    private let crcs: UnsafeMutableBufferPointer<UInt32>
    /// The footer's CRC and the data pad's length, set when the walk passes the footer.
    var stored: UInt32?
    var pad = 0

    init(entry: ImageIndexEntry, head: CRC32C, chunkSize: Int, path: String) {
        precondition(chunkSize > 0)
        self.entry = entry
        self.head = head
        self.chunkSize = chunkSize
        self.path = path
        let chunks = Int((entry.dataLength + UInt64(chunkSize) - 1) / UInt64(chunkSize))
        crcs = .allocate(capacity: chunks)
        crcs.initialize(repeating: 0)
    }

    deinit { crcs.deallocate() }

    /// The CRC-32C of `bytes` (of them alone), recorded as chunk `chunk`'s.
    public func checksum(chunk: Int, _ bytes: UnsafeRawBufferPointer) {
        var c = CRC32C()
        c.update(bytes)
        crcs[chunk] = c.value
    }

    /// Throws `.checksumMismatch` (with the record's offset and id) unless the record's
    /// bytes give the CRC its footer stores. Every chunk must have been recorded.
    public func verify() throws(ImageError) {
        guard let stored else { preconditionFailure("PendingRecordCheck.verify before the walk passed record \(entry.id)") }
        var c = head
        var left = entry.dataLength
        for crc in crcs {
            let n = Int(min(UInt64(chunkSize), left))
            c.append(crc: crc, length: n)
            left -= UInt64(n)
        }
        if pad > 0 { withUnsafeBytes(of: UInt64(0)) { c.update(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
        guard c.value == stored else {
            throw .checksumMismatch(path: path, offset: entry.offset, recordID: entry.id,
                                    structure: "record \(entry.id) (\(entry.type))", stored: stored, computed: c.value)
        }
    }
}
