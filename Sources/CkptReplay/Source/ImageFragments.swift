import CCkptUAPI
import CkptImage
import CkptProtocol

/// Walks an image's records in stream order and cuts each into the fragments the protocol
/// sends (meta on the first, at most `maxData` data bytes each), reading the data straight
/// from the file into one reusable buffer: memory is one fragment, whatever the image size.
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
/// (`verifyImage`), as `ckpt replay` does.
struct ImageFragments {
    let reader: ImageReader
    let maxData: Int

    init(reader: ImageReader, maxData: Int = Int(CKPT_DATA_MAX)) {
        precondition(maxData >= 1 && maxData <= Int(CKPT_DATA_MAX))
        self.reader = reader
        self.maxData = maxData
    }

    /// Bytes of records in the file: the unit of `progress`.
    var totalBytes: UInt64 { reader.trailer.indexOffset - reader.recordsOffset }

    /// Calls `body` with each fragment (its `crid` and `seq` are 0: the caller sets them)
    /// and the CRC-32C of the fragment's data (computed once, as the image's record CRC is
    /// checked), and the meta bytes of each record once, as the record's first fragment is
    /// made.
    /// `progress(done, total)` after each record, in record bytes of the file.
    func walk(
        meta transform: (ImageIndexEntry, UnsafeRawBufferPointer) throws -> [UInt8],
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        _ body: (RecordFragment, UInt32) throws -> Void
    ) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxData, alignment: 8)
        defer { buffer.deallocate() }
        try walk(meta: transform, progress: progress, buffer: { buffer }, body)
    }

    /// The same, reading each fragment's data into the buffer `buffer()` returns just before
    /// (at least `maxData` bytes; `FragmentPipe` hands out a slot each time).
    func walk(
        meta transform: (ImageIndexEntry, UnsafeRawBufferPointer) throws -> [UInt8],
        progress: (UInt64, UInt64) -> Void = { _, _ in },
        buffer nextBuffer: () throws -> UnsafeMutableRawBufferPointer,
        _ body: (RecordFragment, UInt32) throws -> Void
    ) throws {
        var records = reader.records()
        let total = totalBytes
        while true {
            let next: (entry: ImageIndexEntry, meta: UnsafeRawBufferPointer)?
            do throws(ImageError) { next = try records.next() } catch { throw ReplayError.image(error) }
            guard let (entry, metaView) = next else { break }
            let meta = try transform(entry, metaView)
            try meta.withUnsafeBytes { metaBytes in
                var offset: UInt64 = 0
                repeat {
                    let buffer = UnsafeMutableRawBufferPointer(rebasing: try nextBuffer()[0..<maxData])
                    let n: Int
                    do throws(ImageError) { n = try records.readData(into: buffer) } catch { throw ReplayError.image(error) }
                    if n == 0, offset < entry.dataLength {
                        throw ReplayError.image(.truncated(
                            path: reader.path, offset: entry.dataOffset + offset, recordID: entry.id,
                            structure: "record \(entry.id) data", needed: entry.dataLength - offset, available: 0))
                    }
                    let data = n > 0 ? UnsafeRawBufferPointer(rebasing: buffer[0..<n]) : UnsafeRawBufferPointer(start: nil, count: 0)
                    try body(RecordFragment(
                        crid: 0, seq: 0, type: entry.type, id: entry.id, parent: entry.parent,
                        dataLength: entry.dataLength, dataOffset: offset,
                        meta: offset == 0 ? metaBytes : nil, data: data), n > 0 ? records.lastDataCRC : 0)
                    offset += UInt64(n)
                } while offset < entry.dataLength
            }
            progress(entry.offset + entry.recordSize - reader.recordsOffset, total)
        }
    }

    /// The meta as the image holds it (what the kernel sent in the capture stream).
    static func verbatim(_ entry: ImageIndexEntry, _ meta: UnsafeRawBufferPointer) throws -> [UInt8] {
        Array(meta)
    }

    /// The meta decoded and re-encoded without `CKPT_A_META_PAD` attributes: the kernel's
    /// strict request policy rejects pads, which stream messages carry before u64s.
    static func forRestart(_ entry: ImageIndexEntry, _ meta: UnsafeRawBufferPointer) throws -> [UInt8] {
        do throws(ProtocolError) {
            return try RecordMeta(type: entry.type, payload: meta).encodedPayload(padded: false)
        } catch {
            throw ReplayError.meta(recordID: entry.id, error)
        }
    }
}
