import CkptProtocol

/// What `verifyImage` checked, for `ckpt verify` to print.
public struct ImageVerification: Equatable, Sendable {
    public var header: ImageHeader
    public var source: ImageSource
    public var trailer: ImageTrailer
    public var fileSize: UInt64
    /// Records of each type.
    public var recordsByType: [RecordType: UInt64]
    /// Data bytes (without meta) over all records.
    public var dataBytes: UInt64
}

/// Checks a complete image end to end and reports the first problem in file order:
///
/// 1. the file header (magic, version, fields, CRC);
/// 2. the trailer (magic, version, CRC, index geometry); when it is missing or bad, the
///    records are scanned first, and a damaged record before it is the problem reported;
/// 3. every record in order: header, that it fits before the index, padding, footer, CRC,
///    and the tree rules (`RecordTreeRules`); the first record's meta as a header record;
/// 4. the index: CRC, and each entry against the record it names;
/// 5. a trailer record last; the stream summary recomputed with `StreamSummaryBuilder`
///    against the trailer's; the CRC-32C of every byte before the trailer.
///
/// Every byte of the file is covered by one of these checks, so a flipped byte anywhere
/// is reported, with the record it is in (if any) and an offset at or before it in the
/// same structure. `progress(done, total)` is called every ~64 MiB and at the end.
/// Memory: the list of records (40 bytes each) to compare with the index.
public func verifyImage(path: String, progress: ((UInt64, UInt64) -> Void)? = nil) throws(ImageError) -> ImageVerification {
    try verifyImage(source: LocalImageBytes(path: path), progress: progress)
}

/// `verifyImage(path:)` over any byte source, read once from start to end (an object in a
/// store is streamed, never copied whole).
public func verifyImage(source: any ImageByteSource, progress: ((UInt64, UInt64) -> Void)? = nil) throws(ImageError) -> ImageVerification {
    let path = source.path
    let file = ImageFile(source: source)
    // A local file is read through its mapping: checksummed in place, no copy.
    _ = file.mapping()
    let (header, start) = try ImageHeader.read(from: file)
    let trailer: ImageTrailer
    do {
        trailer = try ImageTrailer.read(from: file, recordsStart: start)
    } catch {
        // Not complete: the problem may be earlier (a damaged or truncated record).
        if case let .damaged(earlier)? = try? PartialImageScanner(file: file).scan().stop, earlier.offset < error.offset {
            throw earlier
        }
        throw error
    }
    var walker = RecordWalker(file: file, start: start, mode: .complete(end: trailer.indexOffset))
    defer { walker.release() }
    walker.fileCRC.append(crc: try headerCRC(file, length: start), length: start)

    var entries: [ImageIndexEntry] = []
    var byType: [RecordType: UInt64] = [:]
    var dataBytes: UInt64 = 0
    var source: ImageSource?
    var reported: UInt64 = 0
    let step: UInt64 = 64 << 20
    while let (_, meta) = try walker.begin() {
        let metaCopy = entries.isEmpty ? Array(meta) : []
        let e = try walker.finish()
        if entries.isEmpty { source = try ImageSource(headerRecord: e, meta: metaCopy, path: path) }
        entries.append(e)
        byType[e.type, default: 0] += 1
        dataBytes += e.dataLength
        if let progress, walker.offset - reported >= step {
            reported = walker.offset
            progress(reported, file.size)
        }
    }
    let index = try ImageReader.readIndex(file, trailer: trailer, recordsOffset: start, matching: entries)
    _ = index
    do { try walker.tree.finish() } catch {
        throw .nesting(path: path, offset: trailer.indexOffset, violation: error)
    }
    let trailerAt = file.size - UInt64(ImageLayout.trailerSize)
    let found = walker.summary.summary
    for (field, expected, got) in [("records", trailer.summary.records, found.records), ("bytes", trailer.summary.bytes, found.bytes),
                                   ("checksum", UInt64(trailer.summary.checksum), UInt64(found.checksum))] where expected != got {
        throw .summaryMismatch(path: path, offset: trailerAt, field: field, expected: expected, found: got)
    }
    walker.fileCRC.append(crc: trailer.indexCRC, length: trailerAt - trailer.indexOffset)
    guard walker.fileCRC.value == trailer.fileCRC else {
        throw .checksumMismatch(path: path, offset: trailerAt + UInt64(ImageLayout.TrailerOffset.fileCRC), recordID: nil,
                                structure: "file (bytes 0..<\(trailerAt))", stored: trailer.fileCRC, computed: walker.fileCRC.value)
    }
    progress?(file.size, file.size)
    guard let source else {
        throw .nesting(path: path, offset: start, violation: .missingTrailer(records: 0))
    }
    return ImageVerification(header: header, source: source, trailer: trailer, fileSize: file.size, recordsByType: byType, dataBytes: dataBytes)
}

/// CRC-32C of the file header's bytes (already checked by `ImageHeader.read`).
private func headerCRC(_ file: ImageFile, length: UInt64) throws(ImageError) -> UInt32 {
    var c = CRC32C()
    c.update(try file.bytes(at: 0, count: Int(length), structure: "file header", recordID: nil))
    return c.value
}

extension ImageReader {
    /// `readIndex`, then each entry against the record the walk found at that position.
    static func readIndex(_ file: ImageFile, trailer: ImageTrailer, recordsOffset: UInt64, matching records: [ImageIndexEntry]) throws(ImageError) -> [ImageIndexEntry] {
        let index = try readIndex(file, trailer: trailer, recordsOffset: recordsOffset)
        let base = trailer.indexOffset + UInt64(ImageLayout.indexHeaderSize)
        for (i, (x, r)) in zip(index, records).enumerated() where x != r {
            let at = base + UInt64(i * ImageLayout.indexEntrySize)
            for (field, a, b) in [("id", UInt64(x.id), UInt64(r.id)), ("parent", UInt64(x.parent), UInt64(r.parent)),
                                  ("type", UInt64(x.type.rawValue), UInt64(r.type.rawValue)), ("offset", x.offset, r.offset),
                                  ("meta length", UInt64(x.metaLength), UInt64(r.metaLength)), ("data length", x.dataLength, r.dataLength),
                                  ("flags", UInt64(x.flags), UInt64(r.flags))]
            where a != b {
                throw .indexMismatch(path: file.path, offset: at, recordID: r.id, field: field, index: a, record: b)
            }
        }
        guard index.count == records.count else {
            throw .indexMismatch(path: file.path, offset: trailer.indexOffset, recordID: nil, field: "entry count",
                                 index: UInt64(index.count), record: UInt64(records.count))
        }
        return index
    }
}
