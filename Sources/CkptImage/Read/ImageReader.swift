import CkptProtocol
import SystemPackage

/// A complete image, open for random access.
///
/// Opening reads and checks the file header, the trailer and the index (magic numbers,
/// versions, CRCs, and that the index describes records that tile the file exactly, ids
/// strictly increasing); it reads no record. Then `entry(id:)` finds a record in
/// O(log n) and `meta(of:)` / `readData(of:offset:into:)` read it with one `pread` each.
/// Random reads check the record's header against its index entry but not its CRC (that
/// needs the whole record); `records()` and `verifyImage` check everything.
///
/// A file without a valid trailer is not a complete image and does not open: use
/// `PartialImageScanner` for `.partial` and `.failed` files.
///
/// Memory: the index, ~40 bytes per record. Not thread-safe (one read window).
public final class ImageReader {
    public let path: String
    public let header: ImageHeader
    /// Where the first record starts (the file header's length).
    public let recordsOffset: UInt64
    public let trailer: ImageTrailer
    /// One entry per record, in stream (= id) order.
    public let index: [ImageIndexEntry]
    public var fileSize: UInt64 { file.size }
    /// The stream's totals, as the trailer states them.
    public var summary: StreamSummary { trailer.summary }
    let file: ImageFile

    public convenience init(path: String) throws(ImageError) {
        try self.init(source: LocalImageBytes(path: path))
    }

    /// Opens the image from any byte source (an object in a store: header, trailer and
    /// index are the only bytes read here). `mapped`: map a local image now, so the header,
    /// the index and every record are read as views of the mapping instead of through a
    /// 1 MiB read window: for a reader that will walk the image anyway (the restore, whose
    /// plan reads each record's metadata and whose memory write maps the file), where
    /// windows would copy megabytes of page data to read a few hundred bytes of metadata.
    public init(source: any ImageByteSource, mapped: Bool = false) throws(ImageError) {
        path = source.path
        file = ImageFile(source: source, mapNow: mapped)
        (header, recordsOffset) = try ImageHeader.read(from: file)
        trailer = try ImageTrailer.read(from: file, recordsStart: recordsOffset)
        index = try Self.readIndex(file, trailer: trailer, recordsOffset: recordsOffset)
    }

    /// The record with this id, by binary search over the index. O(log n), no I/O.
    public func entry(id: UInt32) -> ImageIndexEntry? {
        var lo = 0, hi = index.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if index[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < index.count && index[lo].id == id ? index[lo] : nil
    }

    /// The record's `CKPT_A_META` payload (a sequence of netlink attributes, as received).
    /// Checks the record's header (magic, CRC, fields) against the index entry.
    public func meta(of entry: ImageIndexEntry) throws(ImageError) -> [UInt8] {
        try expectOwn(entry, "meta(of:)")
        let count = ImageLayout.recordHeaderSize + Int(entry.metaLength)
        let b = try file.bytes(at: entry.offset, count: count, structure: "record \(entry.id) (\(entry.type))", recordID: entry.id)
        let h = try ImageRecordHeader.decode(b, offset: entry.offset, path: path)
        try check(h, against: entry)
        return Array(b[ImageLayout.recordHeaderSize...])
    }

    /// Reads the record's data from `offset` (within the data) into `buffer`: as many bytes
    /// as fit and remain. Returns the count (0 at the end of the data). Every byte asked
    /// for that exists is read, or an error says why not.
    public func readData(of entry: ImageIndexEntry, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        try expectOwn(entry, "readData")
        guard offset <= entry.dataLength else {
            throw .misuse(path: path, offset: entry.dataOffset, recordID: entry.id, call: "readData",
                          expected: "an offset within the record's \(entry.dataLength) data bytes", found: "\(offset)")
        }
        let n = Int(min(UInt64(buffer.count), entry.dataLength - offset))
        if n == 0 { return 0 }
        try file.read(at: entry.dataOffset + offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]),
                      structure: "record \(entry.id) (\(entry.type)) data", recordID: entry.id)
        return n
    }

    /// Where the task ran, from the `header` record (the stream's first record).
    public func source() throws(ImageError) -> ImageSource {
        guard let first = index.first else {
            throw .badField(path: path, offset: recordsOffset, recordID: nil, field: "first record", expected: "a header record", found: "no records")
        }
        return try ImageSource(headerRecord: first, meta: meta(of: first), path: path)
    }

    /// Walks every record in order, checking each completely (CRC and tree rules) before
    /// the next one: a pull-based iterator, see `ImageRecordIterator`.
    public func records() -> ImageRecordIterator {
        ImageRecordIterator(reader: self)
    }

    /// `entry` must be one of this image's (O(log n)); offsets computed from it then stay
    /// inside the file.
    private func expectOwn(_ entry: ImageIndexEntry, _ call: String) throws(ImageError) {
        guard self.entry(id: entry.id) == entry else {
            throw .misuse(path: path, offset: entry.offset, recordID: entry.id, call: call,
                          expected: "an index entry of this image", found: "\(entry)")
        }
    }

    private func check(_ h: ImageRecordHeader, against e: ImageIndexEntry) throws(ImageError) {
        for (field, index, record) in [("id", UInt64(e.id), UInt64(h.id)), ("parent", UInt64(e.parent), UInt64(h.parent)),
                                       ("type", UInt64(e.type.rawValue), UInt64(h.type.rawValue)),
                                       ("meta length", UInt64(e.metaLength), UInt64(h.metaLength)),
                                       ("data length", e.dataLength, h.dataLength)] where index != record {
            throw .indexMismatch(path: path, offset: e.offset, recordID: e.id, field: field, index: index, record: record)
        }
    }

    /// Reads the index, checks its CRC, and that its entries describe records that tile
    /// [recordsOffset, indexOffset) exactly, in strictly increasing id order.
    static func readIndex(_ file: ImageFile, trailer: ImageTrailer, recordsOffset: UInt64) throws(ImageError) -> [ImageIndexEntry] {
        typealias L = ImageLayout
        typealias O = L.IndexOffset
        let path = file.path
        let length = Int(trailer.indexCount) * L.indexEntrySize + L.indexHeaderSize
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { bytes.deallocate() }
        try file.read(at: trailer.indexOffset, into: bytes, structure: "index", recordID: nil)
        let b = UnsafeRawBufferPointer(bytes)
        var c = CRC32C()
        c.update(b)
        guard c.value == trailer.indexCRC else {
            throw .checksumMismatch(path: path, offset: trailer.indexOffset, recordID: nil, structure: "index", stored: trailer.indexCRC, computed: c.value)
        }
        guard b.le32(0) == L.indexMagic else {
            throw .badMagic(path: path, offset: trailer.indexOffset, recordID: nil, structure: "index",
                            expected: UInt64(L.indexMagic), found: UInt64(b.le32(0)))
        }
        guard b.le32(4) == UInt32(L.indexEntrySize) else {
            throw .badField(path: path, offset: trailer.indexOffset + 4, recordID: nil, field: "index entry size",
                            expected: "\(L.indexEntrySize)", found: "\(b.le32(4))")
        }
        var entries: [ImageIndexEntry] = []
        entries.reserveCapacity(Int(trailer.indexCount))
        var expectedOffset = recordsOffset
        var previousID: UInt32 = 0
        for i in 0..<Int(trailer.indexCount) {
            let at = L.indexHeaderSize + i * L.indexEntrySize
            let fileAt = trailer.indexOffset + UInt64(at)
            func bad(_ field: Int, _ name: String, _ expected: String, _ found: String, _ id: UInt32?) -> ImageError {
                .badField(path: path, offset: fileAt + UInt64(field), recordID: id, field: "index entry \(i) \(name)", expected: expected, found: found)
            }
            let id = b.le32(at + O.id)
            guard id > previousID else { throw bad(O.id, "id", "above \(previousID) (ids strictly increase)", "\(id)", id) }
            guard let type = RecordType(rawValue: UInt32(b.le16(at + O.type))) else {
                throw bad(O.type, "type", "a known record type", "\(b.le16(at + O.type))", id)
            }
            let flags = b.le16(at + O.flags)
            guard flags & ~L.knownRecordFlags == 0 else {
                throw bad(O.flags, "flags", "0 or \(L.recordFlagAlignedData) (aligned data)", "\(flags)", id)
            }
            let metaLength = b.le32(at + O.metaLength)
            guard metaLength <= L.metaMaxLength else { throw bad(O.metaLength, "meta length", "at most \(L.metaMaxLength)", "\(metaLength)", id) }
            let offset = b.le64(at + O.offset)
            guard offset == expectedOffset else {
                throw bad(O.offset, "offset", "\(expectedOffset) (records are contiguous)", "\(offset)", id)
            }
            let dataLength = b.le64(at + O.dataLength)
            guard let size = L.recordSize(metaLength: metaLength, dataLength: dataLength, offset: offset, flags: flags),
                  size <= trailer.indexOffset - offset else {
                throw bad(O.dataLength, "data length", "a record ending before the index at \(trailer.indexOffset)", "\(dataLength)", id)
            }
            entries.append(ImageIndexEntry(id: id, parent: b.le32(at + O.parent), type: type, metaLength: metaLength, offset: offset,
                                           dataLength: dataLength, flags: flags))
            expectedOffset = offset + size
            previousID = id
        }
        guard expectedOffset == trailer.indexOffset else {
            throw .badField(path: path, offset: trailer.indexOffset, recordID: nil, field: "index",
                            expected: "records ending at the index (offset \(trailer.indexOffset))", found: "the last indexed record ends at \(expectedOffset)")
        }
        return entries
    }
}

/// Every record of an image in order, each checked completely (header, CRC, padding,
/// footer, tree rules) when the iterator moves past it:
///
/// ```swift
/// var it = reader.records()
/// while let (entry, meta) = try it.next() {
///     while case let n = try it.readData(into: buffer), n > 0 { ... }   // optional
/// }
/// ```
///
/// Data read with `readData` reaches the caller before the record's CRC is checked (at the
/// following `next()`, which then throws): a consumer that must not act on bad data verifies
/// the image first (`verifyImage`). Data not read is still read and checked.
public struct ImageRecordIterator {
    private var walker: RecordWalker
    private let end: UInt64
    private let holder: Holder

    /// Frees the walker's buffer when the iterator goes away.
    private final class Holder {
        let reader: ImageReader
        var release: (() -> Void)?
        init(_ r: ImageReader) { reader = r }
        deinit { release?() }
    }

    init(reader: ImageReader) {
        end = reader.trailer.indexOffset
        walker = RecordWalker(file: reader.file, start: reader.recordsOffset, mode: .complete(end: end))
        walker.summarize = false
        holder = Holder(reader)
        holder.release = { [walker] in walker.release() }
    }

    /// The next record's index entry and meta (valid until the next call); nil after the last.
    public mutating func next() throws(ImageError) -> (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)? {
        if walker.current != nil { _ = try walker.finish() }
        guard let r = try walker.begin() else {
            do { try walker.tree.finish() } catch {
                throw .nesting(path: walker.file.path, offset: end, violation: error)
            }
            return nil
        }
        return r
    }

    /// The current record's next data bytes into `buffer`; 0 when all were read.
    public mutating func readData(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        guard walker.current != nil else { return 0 }
        return try walker.readData(into: buffer)
    }

    /// The current record's next data bytes (at most `max`) as a view of the mapped image,
    /// checked as `readData` checks (the same CRC, `lastDataCRC`), copying nothing; empty when
    /// all were read; nil when the image's source is not mapped (use `readData`). The view
    /// lives as long as the reader. A local file is mapped at the first call.
    public mutating func mappedData(max: Int) throws(ImageError) -> UnsafeRawBufferPointer? {
        guard walker.current != nil else { return walker.file.mapping() == nil ? nil : UnsafeRawBufferPointer(start: nil, count: 0) }
        return try walker.mappedData(max: max)
    }

    /// The current record's next data bytes, at most `buffer.count`: a view of the mapped
    /// image (`mappedData`), else read into `buffer` (`readData`). Empty when all were read.
    public mutating func nextData(orInto buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> UnsafeRawBufferPointer {
        if let view = try mappedData(max: buffer.count) { return view }
        let n = try readData(into: buffer)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<n])
    }

    /// CRC-32C of the bytes the last `readData`, `mappedData` or `nextData` returned
    /// (computed once, as it read them): a caller that checksums them too extends its CRC
    /// with this instead. 0 for deferred data (`lastDeferred`).
    public var lastDataCRC: UInt32 { walker.lastDataCRC }

    /// From now on, leave pages records' data unchecked: the caller reads it `chunk` bytes
    /// at a time (the last piece shorter), checksums each piece into `lastDeferred`'s check
    /// and calls its `verify()` once all are in. Everything else of every record is still
    /// checked as the walk passes it. For a caller that hands the data to other threads
    /// anyway (`ProcessMemoryWriter`): they checksum it in parallel.
    public mutating func deferPagesData(chunk: Int) {
        precondition(chunk > 0 && walker.current == nil)
        walker.deferPagesData = chunk
    }

    /// The record check and chunk of the data the last `readData`, `mappedData` or
    /// `nextData` returned, when deferred; nil when it was checked here.
    public var lastDeferred: (check: PendingRecordCheck, chunk: Int)? {
        walker.pending.map { ($0, walker.lastChunk) }
    }
}
