import CCkptUAPI
import CkptImage
import CkptProtocol

/// Walks an image's records in stream order and cuts each into the fragments the protocol
/// sends (meta on the first, at most `maxData` data bytes each). A local image is mapped
/// and each fragment's data is a view of it (`ImageRecordIterator.mappedData`: checksummed
/// in place, no copy); an image that cannot be mapped (in a store) is read into one
/// reusable buffer. Memory is one fragment, whatever the image size.
///
/// ```
///  image:  [hdr][rec 1: meta | data ........ ][rec 2: meta][rec 3: meta | data ...] ...
///  body:   frag(1, off 0, meta, data[0..<N]) frag(1, off N, data[N..<2N]) ...
///          frag(2, off 0, meta) frag(3, off 0, meta, data ...) ...
/// ```
///
/// `meta` decides the meta bytes each record is sent with (verbatim for a capture stream,
/// re-encoded without pad attributes for the kernel's restart). Records are checked as the
/// walk passes them (`ImageReader.records()`): a record's CRC is confirmed only when the
/// walk moves past it, so callers that must not act on bad bytes verify the image first
/// (`verifyImage`), as `ckpt replay` does. With `deferPagesData` the pages records' data
/// is left to the caller to checksum (`FragmentDataCheck.deferred`), the rest still checked
/// as the walk passes it.
struct ImageFragments {
    let reader: ImageReader
    let maxData: Int
    let deferPagesData: Bool

    /// `maxData` is not capped here: senders to the kernel or a sink (`RestartReplayer`,
    /// `StreamReplayer`) keep it at most `CKPT_DATA_MAX`; `ProcessMemoryWriter` writes larger runs.
    init(reader: ImageReader, maxData: Int = Int(CKPT_DATA_MAX), deferPagesData: Bool = false) {
        precondition(maxData >= 1)
        self.reader = reader
        self.maxData = maxData
        self.deferPagesData = deferPagesData
    }

    /// Bytes of records in the file: the unit of `progress`.
    var totalBytes: UInt64 { reader.trailer.indexOffset - reader.recordsOffset }

    /// Calls `body` with each fragment (its `crid` and `seq` are 0: the caller sets them)
    /// and the CRC-32C of the fragment's data (computed once, as the image's record CRC is
    /// checked; or the check left to the caller), and the meta bytes of each record once, as
    /// the record's first fragment is made.
    /// `progress(done, total)` after each record, in record bytes of the file.
    func walk(
        meta transform: (ImageIndexEntry, UnsafeRawBufferPointer) throws -> [UInt8],
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        _ body: (RecordFragment, FragmentDataCheck) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxData, alignment: 8)
        defer { buffer.deallocate() }
        try walk(meta: transform, progress: progress, buffer: { buffer }, body)
    }

    /// The same, reading each fragment's data into the buffer `buffer()` returns just before
    /// (at least `maxData` bytes; `FragmentPipe` hands out a slot each time), or leaving it
    /// unused when the data is a view of the mapped image: a fragment's `data` points into
    /// one or the other, and stays valid until the next `buffer()` call or as long as the
    /// reader, respectively.
    ///
    /// With `parent` (the pre-copy a checkpoint was taken after), each parent-pages record
    /// becomes the pages records of the pre-copy that hold its range, read from it in place
    /// (`ParentImagePages`); records are numbered anew (the kernel wants ascending ids, the
    /// new records need some) and the trailer counts the pages sent. Without it, an image
    /// with parent-pages records fails with `.noParent`.
    func walk(
        meta transform: (ImageIndexEntry, UnsafeRawBufferPointer) throws -> [UInt8],
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        parent: ParentImagePages? = nil,
        buffer nextBuffer: () throws -> UnsafeMutableRawBufferPointer,
        _ body: (RecordFragment, FragmentDataCheck) throws -> Void
    ) throws {
        var records = reader.records()
        if deferPagesData { records.deferPagesData(chunk: maxData) }
        let total = totalBytes
        var renumber = Renumbering()
        while true {
            let next: (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)?
            do throws(ImageError) { next = try records.next() } catch { throw ReplayError.image(error) }
            guard let (original, metaView) = next else { break }
            var entry = original
            if entry.type == .header, case let .header(h) = try Self.decode(entry, metaView) {
                renumber.parentCrid = h.parentCrid
                renumber.pageSize = UInt64(h.pageSize)
            }
            if let parent {
                if entry.type == .parentPages {
                    try emitParentPages(entry, metaView, from: parent, renumber: &renumber, buffer: nextBuffer, body)
                    progress(entry.offset + entry.recordSize - reader.recordsOffset, total)
                    continue
                }
                (entry.id, entry.parent) = renumber.own(entry)
            } else if entry.type == .parentPages {
                throw ReplayError.noParent(parentCrid: renumber.parentCrid)
            }
            let meta = parent != nil && entry.type == .trailer
                ? try renumber.trailer(Self.decode(entry, metaView)) : try transform(entry, metaView)
            try meta.withUnsafeBytes { metaBytes in
                var offset: UInt64 = 0
                repeat {
                    // Taken even when the data stays in the mapped image: the caller's buffers
                    // bound how far the walk runs ahead (`FragmentPipe`).
                    let buffer = UnsafeMutableRawBufferPointer(rebasing: try nextBuffer()[0..<maxData])
                    let data: UnsafeRawBufferPointer
                    do throws(ImageError) { data = try records.nextData(orInto: buffer) } catch { throw ReplayError.image(error) }
                    let n = data.count
                    if n == 0, offset < entry.dataLength {
                        throw ReplayError.image(.truncated(
                            path: reader.path, offset: entry.dataOffset + offset, recordID: entry.id,
                            structure: "record \(entry.id) data", needed: entry.dataLength - offset, available: 0))
                    }
                    try body(RecordFragment(
                        crid: 0, seq: 0, type: entry.type, id: entry.id, parent: entry.parent,
                        dataLength: entry.dataLength, dataOffset: offset,
                        meta: offset == 0 ? metaBytes : nil, data: data),
                        n == 0 ? .checked(crc: 0)
                            : records.lastDeferred.map { .deferred($0.check, chunk: $0.chunk) } ?? .checked(crc: records.lastDataCRC))
                    offset += UInt64(n)
                } while offset < entry.dataLength
            }
            progress(entry.offset + entry.recordSize - reader.recordsOffset, total)
        }
        try parent?.finish()
    }

    /// Ids for a stream with records added: the image's records keep their order and get
    /// the next id each, added records too; parents follow their records' new ids.
    struct Renumbering {
        var parentCrid: UInt64?
        var pageSize: UInt64 = 4096
        private var last: UInt32 = 0
        private var ids: [UInt32: UInt32] = [:]
        /// Pages sent from the parent image, for the trailer.
        private(set) var addedPages: UInt64 = 0

        mutating func own(_ entry: ImageIndexEntry) -> (id: UInt32, parent: UInt32) {
            last += 1
            ids[entry.id] = last
            return (last, entry.parent == 0 ? 0 : ids[entry.parent] ?? 0)
        }

        mutating func added(parent: UInt32, pages: UInt64) -> (id: UInt32, parent: UInt32) {
            last += 1
            addedPages += pages
            return (last, ids[parent] ?? 0)
        }

        /// The trailer's meta, without pads, counting the pages added.
        func trailer(_ meta: RecordMeta) -> [UInt8] {
            var meta = meta
            if case var .trailer(t) = meta {
                t.nrPagesTotal += addedPages
                meta = .trailer(t)
            }
            return meta.encodedPayload(padded: false)
        }
    }

    /// The pre-copy's pages for one parent-pages record: a pages record per pre-copy record
    /// its range meets, data read from the pre-copy straight into the fragment buffers;
    /// nothing for the pages of zeros the pre-copy left out.
    private func emitParentPages(
        _ entry: ImageIndexEntry, _ metaView: UnsafeRawBufferPointer, from parent: ParentImagePages,
        renumber: inout Renumbering, buffer nextBuffer: () throws -> UnsafeMutableRawBufferPointer,
        _ body: (RecordFragment, FragmentDataCheck) throws -> Void
    ) throws {
        guard case let .parentPages(p) = try Self.decode(entry, metaView) else { return }
        let pageSize = renumber.pageSize
        var address = p.addr
        let end = p.addr + UInt64(p.nrPages) * pageSize
        while address < end {
            let runEnd: UInt64
            switch try parent.seek(address, recordID: entry.id) {
            case let .zeros(until):
                address = min(end, until)   // left out of the pre-copy: the fresh mapping's zeros
                continue
            case let .data(until): runEnd = min(end, until)
            }
            let length = runEnd - address
            let (id, vma) = renumber.added(parent: entry.parent, pages: length / pageSize)
            let meta = RecordMeta.pages(PagesMeta(addr: address, nrPages: UInt32(length / pageSize))).encodedPayload(padded: false)
            try meta.withUnsafeBytes { metaBytes in
                var offset: UInt64 = 0
                repeat {
                    let want = Int(min(UInt64(maxData), length - offset))
                    let buffer = UnsafeMutableRawBufferPointer(rebasing: try nextBuffer()[0..<want])
                    let (data, crc) = try parent.read(into: buffer)
                    guard data.count > 0 else {
                        throw ReplayError.parentMissing(recordID: entry.id, address: address + offset, parentPath: parent.reader.path)
                    }
                    try body(RecordFragment(
                        crid: 0, seq: 0, type: .pages, id: id, parent: vma, dataLength: length, dataOffset: offset,
                        meta: offset == 0 ? metaBytes : nil, data: data), .checked(crc: crc))
                    offset += UInt64(data.count)
                } while offset < length
            }
            address = runEnd
        }
    }

    /// The record's meta decoded; a meta that does not decode is `.meta` with its record.
    static func decode(_ entry: ImageIndexEntry, _ meta: UnsafeRawBufferPointer) throws -> RecordMeta {
        do throws(ProtocolError) { return try RecordMeta(type: entry.type, payload: meta) } catch {
            throw ReplayError.meta(recordID: entry.id, error)
        }
    }

    /// The meta as the image holds it (what the kernel sent in the capture stream).
    static func verbatim(_ entry: ImageIndexEntry, _ meta: UnsafeRawBufferPointer) throws -> [UInt8] {
        Array(meta)
    }

    /// The meta decoded and re-encoded without `CKPT_A_META_PAD` attributes: the kernel's
    /// strict request policy rejects pads, which stream messages carry before u64s.
    static func forRestart(_ entry: ImageIndexEntry, _ meta: UnsafeRawBufferPointer) throws -> [UInt8] {
        try decode(entry, meta).encodedPayload(padded: false)
    }
}

/// What the walk did with a fragment's data before handing it over.
enum FragmentDataCheck {
    /// Checked as part of its record: the data's CRC-32C.
    case checked(crc: UInt32)
    /// Left to the caller (`ImageFragments.deferPagesData`): it checksums the data as chunk
    /// `chunk` of `check` and verifies `check` once all of its chunks are in.
    case deferred(PendingRecordCheck, chunk: Int)

    /// The CRC of checked data; only walks that defer nothing may ask.
    var crc: UInt32 {
        guard case let .checked(crc) = self else { preconditionFailure("a deferred fragment's CRC is its consumer's to compute") }
        return crc
    }
}
