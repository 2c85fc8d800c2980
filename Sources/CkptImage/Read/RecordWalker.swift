import CkptProtocol

/// Walks records in file order from the first one, checking each completely: header
/// (magic, CRC, fields), that it fits, meta and data padding, footer magic and CRC, and
/// (optionally) the tree rules. The verifier, the partial scanner and the reader's
/// iterator all walk with it, so they agree on what a good record is.
///
/// Pull-based, one record at a time: `begin()` reads a header and meta, `readData(into:)`
/// reads data the caller wants, `finish()` reads (and checksums) the rest, the footer, and
/// accounts for the record. Every data byte is checksummed exactly once: its chunk's CRC
/// is combined into the record's CRC and the summary (`CRC32C.append(crc:length:)`), and
/// handed to the caller (`lastDataCRC`) for checksums of its own; or, for pages records
/// with `deferPagesData`, by the caller, into the record's `PendingRecordCheck`.
struct RecordWalker {
    enum Mode {
        /// A complete image: records end exactly at `end` (the index offset).
        case complete(end: UInt64)
        /// A `.partial`/`.failed` file: records run to the end of the file or to an index.
        case partial
    }

    let file: ImageFile
    let mode: Mode
    var checkTree = true
    /// Feed `summary` (a second pass over data; the verifier and scanner want it).
    var summarize = true
    /// Leave pages records' data unchecked, in chunks of this many bytes: the caller
    /// checksums each chunk into `pending` and verifies it (`PendingRecordCheck`). The
    /// caller reads the data with `mappedData(max:)` or `readData(into:)` a chunk at a time.
    var deferPagesData: Int?

    private(set) var offset: UInt64
    private(set) var tree = RecordTreeRules()
    private(set) var summary = StreamSummaryBuilder()
    /// CRC-32C of the file from byte 0 to `offset` (the header's bytes must be fed first).
    var fileCRC = CombinedCRC()
    /// The walk met an index header (partial mode).
    private(set) var reachedIndex = false
    private(set) var lastGoodID: UInt32?

    /// The open record.
    private(set) var current: ImageIndexEntry?
    private var dataRead: UInt64 = 0
    private var crc = CRC32C()
    /// CRC-32C of the bytes the last `readData(into:)` returned (0 when deferred).
    private(set) var lastDataCRC: UInt32 = 0
    /// The open record's deferred check (`deferPagesData`), and the chunk the last data
    /// returned is.
    private(set) var pending: PendingRecordCheck?
    private(set) var lastChunk = 0
    private var metaPadOK = true
    private var meta: UnsafeMutableRawBufferPointer

    init(file: ImageFile, start: UInt64, mode: Mode) {
        self.file = file
        self.mode = mode
        offset = start
        meta = .allocate(byteCount: ImageLayout.metaAndPadMax, alignment: 8)
    }

    /// Frees the meta buffer (a struct has no deinit; owners call this once).
    func release() { meta.deallocate() }

    private var end: UInt64 {
        switch mode {
        case let .complete(end): end
        case .partial: file.size
        }
    }

    private var path: String { file.path }

    private func structure(_ e: ImageIndexEntry) -> String { "record \(e.id) (\(e.type))" }

    private var after: String { lastGoodID.map { "record header after record \($0)" } ?? "first record header" }

    /// Reads the next record's header and meta. Nil at the end of the records. The meta
    /// view is valid until the next `begin()`.
    mutating func begin() throws(ImageError) -> (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)? {
        precondition(current == nil, "RecordWalker.begin with a record open")
        let left = end - offset
        if left == 0 { return nil }
        let headerSize = ImageLayout.recordHeaderSize
        if case .partial = mode, left >= 4 {
            let magic = try file.bytes(at: offset, count: 4, structure: after, recordID: nil).le32(0)
            if magic == ImageLayout.indexMagic {
                reachedIndex = true
                return nil
            }
        }
        if case .complete = mode, left < UInt64(headerSize) {
            throw .badField(path: path, offset: offset, recordID: nil, field: after,
                            expected: "\(headerSize) bytes before the index at \(end)", found: "\(left) bytes")
        }
        let hb = try file.bytes(at: offset, count: headerSize, structure: after, recordID: nil)
        let h = try ImageRecordHeader.decode(hb, offset: offset, path: path)
        let entry = ImageIndexEntry(h, offset: offset)
        var c = CRC32C()
        c.update(hb)
        let size = entry.recordSize
        guard size <= left else {
            switch mode {
            case .partial:
                throw .truncated(path: path, offset: offset, recordID: h.id, structure: structure(entry), needed: size, available: left)
            case .complete:
                throw .badField(path: path, offset: offset + UInt64(ImageLayout.RecordOffset.dataLength), recordID: h.id,
                                field: "record length (meta \(h.metaLength), data \(h.dataLength))",
                                expected: "at most \(left) bytes, the rest of the records before the index",
                                found: "\(size) bytes")
            }
        }
        let m = Int(h.metaLength), padded = Int(entry.dataOffset - entry.metaOffset)  // meta + pad (to 8 or to 4096)
        if padded > 0 {
            let mb = try file.bytes(at: entry.metaOffset, count: padded, structure: structure(entry), recordID: h.id)
            c.update(mb)
            UnsafeMutableRawBufferPointer(rebasing: meta[0..<padded]).copyMemory(from: mb)
            metaPadOK = mb.allZero(m..<padded)
        } else {
            metaPadOK = true
        }
        let metaView = UnsafeRawBufferPointer(rebasing: meta[0..<m])
        if summarize { summary.beginRecord(meta: metaView) }
        pending = nil
        if let chunk = deferPagesData, h.type == .pages, h.dataLength > 0 {
            precondition(!summarize, "a walk that defers data checks cannot summarize")
            pending = PendingRecordCheck(entry: entry, head: c, chunkSize: chunk, path: path)
        }
        crc = c
        dataRead = 0
        current = entry
        return (entry, metaView)
    }

    /// Reads the open record's next data bytes into `out` (as many as fit and remain).
    /// Returns the count, 0 when all data was read.
    mutating func readData(into out: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        guard let e = current else { preconditionFailure("RecordWalker.readData without an open record") }
        let n = Int(min(UInt64(out.count), e.dataLength - dataRead))
        if n == 0 { return 0 }
        let dest = UnsafeMutableRawBufferPointer(rebasing: out[0..<n])
        try file.read(at: e.dataOffset + dataRead, into: dest, structure: structure(e), recordID: e.id)
        consume(UnsafeRawBufferPointer(dest))
        return n
    }

    /// The open record's next data bytes (at most `max`) as a view of the mapped file, and
    /// checksummed as `readData` does; empty when all data was read, nil when the file is not
    /// mapped (`ImageFile.mapping()`). The view lives as long as the file's source.
    mutating func mappedData(max: Int) throws(ImageError) -> UnsafeRawBufferPointer? {
        guard let e = current else { preconditionFailure("RecordWalker.mappedData without an open record") }
        guard let map = file.mapping() else { return nil }
        let n = Int(min(UInt64(max), e.dataLength - dataRead))
        let at = e.dataOffset + dataRead
        // `begin` checked the record fits before `end`, which is within the size mapped.
        guard at + UInt64(n) <= UInt64(map.count) else {
            throw .truncated(path: path, offset: at, recordID: e.id, structure: structure(e), needed: UInt64(n),
                             available: UInt64(map.count) - min(at, UInt64(map.count)))
        }
        let view = UnsafeRawBufferPointer(rebasing: map[Int(at)..<(Int(at) + n)])
        if n > 0 { consume(view) }
        return view
    }

    private mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        if let pending {
            precondition(dataRead % UInt64(pending.chunkSize) == 0 && bytes.count <= pending.chunkSize,
                         "deferred data read in other pieces than its chunks")
            lastChunk = Int(dataRead / UInt64(pending.chunkSize))
            lastDataCRC = 0
            dataRead += UInt64(bytes.count)
            return
        }
        var part = CRC32C()
        part.update(bytes)
        crc.append(crc: part.value, length: bytes.count)
        if summarize { summary.data(count: bytes.count, crc: part.value) }
        lastDataCRC = part.value
        dataRead += UInt64(bytes.count)
    }

    /// Reads what is left of the open record (data, pad, footer), checks it, and accounts
    /// for it.
    mutating func finish() throws(ImageError) -> ImageIndexEntry {
        guard let e = current else { preconditionFailure("RecordWalker.finish without an open record") }
        while dataRead < e.dataLength {
            // Data the caller did not take: checked here, also when deferred (its chunks).
            let n = Int(min(UInt64(pending?.chunkSize ?? ImageFile.windowSize), e.dataLength - dataRead))
            let chunk = try file.bytes(at: e.dataOffset + dataRead, count: n, structure: structure(e), recordID: e.id)
            consume(chunk)
            pending?.checksum(chunk: lastChunk, chunk)
        }
        let pad = Int(ImageLayout.align8(e.dataLength) - e.dataLength)
        let footerAt = e.dataOffset + e.dataLength
        let tail = try file.bytes(at: footerAt, count: pad + ImageLayout.recordFooterSize, structure: structure(e), recordID: e.id)
        crc.update(UnsafeRawBufferPointer(rebasing: tail[0..<pad]))
        let endMagic = tail.le32(pad + 4), stored = tail.le32(pad)
        let footer = UnsafeRawBufferPointer(rebasing: tail[pad...])
        guard endMagic == ImageLayout.recordEndMagic else {
            throw .badMagic(path: path, offset: footerAt + UInt64(pad) + 4, recordID: e.id, structure: "\(structure(e)) footer",
                            expected: UInt64(ImageLayout.recordEndMagic), found: UInt64(endMagic))
        }
        if let pending {
            pending.stored = stored
            pending.pad = pad
        } else if stored != crc.value {
            throw .checksumMismatch(path: path, offset: e.offset, recordID: e.id, structure: structure(e), stored: stored, computed: crc.value)
        }
        guard metaPadOK else {
            throw .badField(path: path, offset: e.metaOffset + UInt64(e.metaLength), recordID: e.id, field: "meta padding", expected: "zero bytes", found: "non-zero")
        }
        guard tail.allZero(0..<pad) else {
            throw .badField(path: path, offset: footerAt, recordID: e.id, field: "data padding", expected: "zero bytes", found: "non-zero")
        }
        if checkTree {
            do { try tree.accept(id: e.id, parent: e.parent, type: e.type) } catch {
                throw .nesting(path: path, offset: e.offset, violation: error)
            }
        }
        fileCRC.append(crc: stored, length: e.recordSize - UInt64(ImageLayout.recordFooterSize))
        fileCRC.append(footer)
        offset += e.recordSize
        current = nil
        lastGoodID = e.id
        return e
    }

    /// `begin` + `finish`: the next whole record, checked. Nil at the end.
    mutating func next() throws(ImageError) -> ImageIndexEntry? {
        guard try begin() != nil else { return nil }
        return try finish()
    }
}
