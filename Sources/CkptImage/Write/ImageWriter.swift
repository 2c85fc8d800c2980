#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CkptProtocol
import SystemPackage

/// Writes an image append-only while its stream arrives: the file header at `init`, each
/// record as its fragments come (`beginRecord`, `appendData` per fragment, `endRecord`),
/// then the index and trailer at `finish`. The listener never holds a record in memory.
///
/// Records with 1 MiB of data or more get their data aligned to 4096 in the file, and those
/// of 64 KiB or more where the pad is small (the aligned-data flag;
/// `ImageLayout.recordFlagAlignedData` says why, `ImageLayout.alignsData` when).
///
/// Hot path, per fragment: one `writev(2)` of (the record's header and meta, if not yet
/// written) + the fragment, straight from the caller's buffer + (padding and footer, if this
/// fragment completes the record). With `coalesceBytes` the parts of several fragments of a
/// record are queued and go out in one `writev` (at `flush()`, when the queue is full, and
/// before the next record or the trailer). No copy of fragment data, no allocation: the
/// header scratch and iovecs are allocated once. The fragment is checksummed once; the
/// record's, the file's and the stream's CRC-32C are all derived from that one pass
/// (`CRC32CCombine`). With `DataChecksums.sender`, a fragment that comes with the sender's CRC-32C
/// of its data (`CKPT_A_DATA_CHECKSUM`) is not checksummed here at all: the sender's value
/// stands for it in every CRC the image holds, so the image's checksums are the source's,
/// and the bytes written are checked against them later: a `TrailingDataCheck` thread reads
/// each record back behind the writer, and what it has not reached at `finish` is left to
/// `takeDeferredCheck()`, which `ckpt listen` runs after publishing the image.
///
/// `beginRecord` writes nothing: the record's header and meta go out with its first
/// fragment (or, for a record without data, at `endRecord`). Without coalescing, every other
/// call has its bytes in the file (not synced) when it returns; after `endRecord`, the whole
/// record; with it, after the next `flush()`; with `alignWrites`, all but the bytes past the
/// last whole block, which the writer keeps (copied) until a later flush completes their
/// block, or `finish` / `settleCompleteRecords`. So a stream that fails between records, or
/// between `beginRecord` and the first fragment, leaves a file that ends cleanly after the
/// previous record (`settleCompleteRecords` writes what is kept).
///
/// Why whole blocks: a page cache write gets large folios only for the naturally aligned
/// blocks it covers whole. An image's data is page-aligned, but every record's header page
/// shifts it against larger blocks, so one 32 KiB fragment written as it came (what a
/// listener does with many streams at once) became four folios of 4, 8, 16 and 4 KiB on
/// ext4 where a plain receiver's aligned write is one, and cost ~30 % more system time
/// (docs/benchmarks.md, "Writes in whole blocks").
///
/// Memory: the index is kept in memory until `finish`, 32 bytes per record (a 1 GiB image of
/// 16 MiB page runs: ~2 KiB; a million small records: 32 MiB), plus a 68 KiB scratch; with
/// `.readBack`, each complete record's offsets and CRCs of its head too, until
/// `finish` (`UnsettledRecord`), and in the trailing check 8 bytes a record and 24 a chunk
/// (a MiB of its data, or less), and the check's thread; with `.sender`, 32 bytes
/// a record with data and the same trailing check, handed to the deferred check at `finish`.
///
/// Allocating ahead (`allocateAhead` > 0): before a write that goes past the blocks already
/// allocated, the next ones are (`fallocate(2)`, `FALLOC_FL_KEEP_SIZE`: the size stays what
/// was written), a quarter of what the file holds at a time, from 1 MiB up to
/// `allocateAhead`. A buffered write into allocated blocks reserves and maps nothing: on
/// ext4, 1 GiB written in 1 MiB writes took ~30 % less system time (docs/benchmarks.md,
/// "Allocated ahead"). The blocks past the end are the caller's to free once the file is
/// done (`ftruncate` to its size; `allocatedAhead` says whether there are any). A refusal
/// (`ENOSPC`, `EOPNOTSUPP`, a pipe) ends it for this writer: the writes allocate as they
/// go, and fail on their own if the disk is full.
///
/// Writes go to the descriptor's current position (the start of an empty file, or a
/// pipe: the writer never seeks). It does not own or close the descriptor, and does not
/// fsync: the caller fsyncs, then renames `<crid>.partial` to `<crid>.ckpt`.
///
/// After any error the writer is failed: every later call throws `.misuse` naming the
/// first error. The file's sound part (what `PartialImageScanner` reads) ends after the
/// last complete record.
/// Not thread-safe: one writer, one thread at a time.
public final class ImageWriter {
    /// Where the CRC-32C of the data written comes from, and so when it is checked.
    public enum DataChecksums: Sendable {
        /// A pass over each fragment as it is written.
        case computed
        /// No pass on the writing thread: the data read back from the file, behind the writer
        /// and at `finish`, which writes the footers' CRCs then (`init`'s comment).
        case readBack
        /// A fragment's sender's CRC-32C, when it came with one (else a pass over it); the
        /// bytes checked against it later (the type's comment, `takeDeferredCheck()`).
        case sender
    }

    /// The file's name in errors (`fd N` when made from a bare descriptor).
    public let path: String
    private let fd: FileDescriptor

    /// Bytes in the file so far (a begun record's header and meta count once written).
    public var bytesWritten: UInt64 { written }
    /// `bytesWritten`'s storage. Private, so the whole-module optimizer sees every access
    /// to it and checks their exclusivity when compiling, not at run time: a public stored
    /// property of a class is checked at run time on every write and read, here twice per
    /// fragment.
    private var written: UInt64 = 0
    /// Complete records written.
    public var recordsWritten: UInt64 { UInt64(index.count / ImageLayout.indexEntrySize) }

    /// The stream totals of the complete records written so far (record count, meta + data
    /// bytes, their CRC-32C), from the writer's single pass over the data: the listener can
    /// compare `CKPT_CMD_STREAM_END` with this instead of checksumming the data again.
    /// `finish` requires the sender's summary to equal it.
    public var streamSummary: StreamSummary {
        StreamSummary(records: recordsWritten, bytes: streamBytes, checksum: streamCRC.value)
    }

    private enum State {
        case idle
        /// Between beginRecord and endRecord; `footerWritten` once the last byte went out.
        case inRecord(footerWritten: Bool)
        case finished
        case failed(ImageError)
    }
    private var state = State.idle

    /// The open record and where it starts.
    private var record = ImageIndexEntry(id: 0, parent: 0, type: .header, metaLength: 0, offset: 0, dataLength: 0)
    private var dataWritten: UInt64 = 0
    private var lastID: UInt32 = 0
    /// CRC-32C of the open record's header + meta + pad, and of its meta alone.
    private var headCRC: UInt32 = 0
    private var metaCRC: UInt32 = 0
    /// CRC-32C of the open record's data so far.
    private var dataCRC = CRC32C()

    private var fileCRC = CombinedCRC()
    private var streamCRC = CombinedCRC()
    private var streamBytes: UInt64 = 0
    /// The index entries, encoded, in record order.
    private var index: [UInt8] = []
    /// `checkDataAtFinish`: the complete records whose CRCs `finish` computes from the file,
    /// the first `handedOff` of them handed to `trailing` (which checks them while the stream
    /// arrives, so `finish` reads only what it has not).
    private let checksums: DataChecksums
    private var checkDataAtFinish: Bool { checksums == .readBack }
    private var senderChecksums: Bool { checksums == .sender }
    /// Some fragment's data went into the image's CRCs unchecked, on its sender's checksum:
    /// until the image is read back and verified, nothing here has compared those bytes
    /// with it.
    /// (Private storage behind a computed property: a public stored one is checked for
    /// exclusive access at run time on every write, once a fragment here.)
    public var usedSenderChecksums: Bool { sawSenderChecksum }
    private var sawSenderChecksum = false
    /// The sender's checksums are folded in with their length's shift, made once per length.
    private var shifts = CRC32CCombine.ShiftCache()
    /// `senderChecksums`: each complete record with data, for the check behind the writer.
    private var expected: [DeferredDataCheck.Expected] = []
    private var deferred: DeferredDataCheck?
    private var unsettled: [UnsettledRecord] = []
    private var trailing: TrailingDataCheck?
    private var handedOff = 0
    /// `checkDataAtFinish`: the data bytes `finish` (or `settleCompleteRecords`) read back
    /// itself, what the trailing check had not finished by then; nil checking inline.
    public var bytesCheckedAtFinish: UInt64? { checkDataAtFinish ? readAtFinish : nil }
    private var readAtFinish: UInt64 = 0
    private struct UnsettledRecord {
        var headCRC: UInt32
        var metaCRC: UInt32
        var metaLength: UInt32
        var dataOffset: UInt64
        var dataLength: UInt64
        var pad: Int
        var bodyLength: UInt64
    }

    /// Record header + meta + pad: written with the first fragment (or at endRecord).
    private let scratch: UnsafeMutableRawBufferPointer
    /// `alignWrites` (0: off): writes end at a multiple of it; the bytes past the last one,
    /// `kept` of them, wait in `keptBytes` (file offsets `inFile..<inFile + kept`) for the
    /// next write, which they begin (`iov[0]`).
    private let alignWrites: Int
    private let keptBytes: UnsafeMutableRawBufferPointer
    private var kept = 0
    /// Every byte before this offset is in the file.
    private var inFile: UInt64 = 0
    private var pending = 0
    /// Data pad + footer.
    private let tail: UnsafeMutableRawBufferPointer
    /// `iov[0]`: the kept bytes; the queued parts from `iov[1]`.
    private let iov: UnsafeMutableBufferPointer<iovec>
    /// Coalescing (`coalesceBytes` > 0): parts queued in `iov` for one later `writev`, the
    /// `queuedBytes` after what is in the file and kept. The caller's fragment buffers must
    /// stay valid until `flush()`; `scratch` and `tail` are only reused after a flush
    /// (`beginRecord` and `finish` flush first).
    private let coalesceBytes: Int
    private var queuedParts = 0
    private var queuedBytes: UInt64 { written - inFile - UInt64(kept) }
    private static let maxQueuedParts = 64
    /// The system call; tests replace it (short writes, EINTR, errors).
    private let writevCall: ImageFileIO.Writev
    /// Allocating ahead: the largest step (0: off, or refused once), the end of what was
    /// allocated, and the call (tests refuse it).
    private var allocateAhead: UInt64
    private var allocatedEnd: UInt64 = 0
    private let allocateCall: ImageFileIO.Allocate
    /// Blocks past the bytes written may have been allocated (the type's comment): the
    /// caller frees them when the file is done.
    public private(set) var allocatedAhead = false

    /// Writes the file header. Errors are `.io` with the errno (`fd N` as the path).
    public convenience init(fd: FileDescriptor, header: ImageHeader) throws(ImageError) {
        try self.init(fd: fd, header: header, path: "fd \(fd.rawValue)")
    }

    /// Writes the file header; `path` names the file in errors.
    public convenience init(fd: FileDescriptor, header: ImageHeader, path: String) throws(ImageError) {
        try self.init(fd: fd, header: header, path: path, writev: ImageFileIO.systemWritev)
    }

    /// Writes the file header; `path` names the file in errors. With `coalesceBytes` > 0
    /// the fragments' writes are queued and go out together, in one `writev` of up to about
    /// that many bytes, at `flush()` or when the queue is full: a caller that receives many
    /// small fragments makes one system call for several (4 KiB fragments: about 2x the
    /// throughput, docs/benchmarks.md), but must keep their buffers valid until `flush()`.
    /// `writePath` says how the bytes reach the file (`ImageWritePath`; `.splice` holds a
    /// pipe for the writer's life). `alignWrites` (a power of two, 0 for none): every write
    /// but the last ends at a multiple of it in the file (the type's comment says why); up to
    /// `alignWrites - 1` bytes are copied and kept until then.
    ///
    /// `.readBack`: no pass over the data on the writing thread; each record's footer
    /// CRC is written as 0. A `TrailingDataCheck` thread (at `SCHED_IDLE`, its own `dup` of
    /// `fd`) reads each record back from the file once it is there, on CPU time the stream
    /// leaves idle; `finish` reads back what it has not, beside it (`FileRangeChecksum`), writes
    /// the footers' CRCs in place (`pwrite`), and only then compares the stream's checksum
    /// with the sender's. The listener's choice: the sender waits for the writer while the
    /// stream lasts, not for what comes after (docs/benchmarks.md, runs 30-32).
    /// Needs `fd` open for reading and writing at any offset (a regular file, not a pipe).
    ///
    /// `.sender`: see the type's comment. `allocateAhead`: the largest step of allocating
    /// ahead (the type's comment; 0: none).
    public convenience init(
        fd: FileDescriptor, header: ImageHeader, path: String, coalesceBytes: Int, writePath: ImageWritePath = .writev,
        dataChecksums: DataChecksums = .computed, alignWrites: Int = 0, allocateAhead: UInt64 = 0
    ) throws(ImageError) {
        let call: ImageFileIO.Writev
        switch writePath {
        case .writev: call = ImageFileIO.systemWritev
        case .splice:
            let pipe = try SplicePipe(path: path)
            call = { fd, iov, count in pipe.writev(fd, iov, count) }
        }
        try self.init(fd: fd, header: header, path: path, writev: call, coalesceBytes: coalesceBytes,
                      dataChecksums: dataChecksums, alignWrites: alignWrites, allocateAhead: allocateAhead)
    }

    /// `checkBehind` (with `.readBack` or `.sender`): a `TrailingDataCheck`
    /// thread checks each record once it is in the file; off, `finish` (or the deferred
    /// check) reads every byte (tests). `afterTrailingStep`
    /// (tests): called by that thread after each chunk it read. `allocate`: the
    /// `fallocate(2)` of allocating ahead (tests refuse it).
    init(fd: FileDescriptor, header: ImageHeader, path: String, writev: @escaping ImageFileIO.Writev,
         coalesceBytes: Int = 0, dataChecksums: DataChecksums = .computed, checkBehind: Bool = true,
         alignWrites: Int = 0, allocateAhead: UInt64 = 0,
         allocate: @escaping ImageFileIO.Allocate = ImageFileIO.systemAllocate,
         afterTrailingStep: (@Sendable () -> Void)? = nil) throws(ImageError) {
        precondition(alignWrites >= 0 && alignWrites & (alignWrites - 1) == 0, "alignWrites must be 0 or a power of two")
        self.allocateAhead = allocateAhead
        allocateCall = allocate
        checksums = dataChecksums
        self.alignWrites = alignWrites
        keptBytes = .allocate(byteCount: alignWrites, alignment: 4096)
        writevCall = writev
        self.fd = fd
        self.path = path
        self.coalesceBytes = coalesceBytes
        scratch = .allocate(byteCount: ImageLayout.recordHeaderSize + ImageLayout.metaAndPadMax, alignment: 8)
        tail = .allocate(byteCount: 16, alignment: 8)
        iov = .allocate(capacity: Self.maxQueuedParts + 4)
        index.reserveCapacity(1024 * ImageLayout.indexEntrySize)
        let bytes = header.encoded()
        try withBytes(bytes) { (b) throws(ImageError) in
            try write(b, nil, nil)
            try flush()  // `bytes` is gone after this closure
            fileCRC.append(b)
        }
        if checksums != .computed && checkBehind {
            trailing = TrailingDataCheck(fd: fd, path: path, afterStep: afterTrailingStep)
        }
    }

    deinit {
        trailing?.cancel()
        scratch.deallocate()
        tail.deallocate()
        keptBytes.deallocate()
        iov.deallocate()
    }

    /// Starts a record: `meta` is its `CKPT_A_META` payload as received (copied here; at most
    /// `ImageLayout.metaMaxLength` bytes), `dataLength` the total its fragments will bring.
    /// Ids must strictly increase (the index is searched by id). Writes nothing yet.
    public func beginRecord(type: RecordType, id: UInt32, parent: UInt32, meta: UnsafeRawBufferPointer, dataLength: UInt64) throws(ImageError) {
        try expectIdle("beginRecord", id: id)
        try flush()  // the previous record's header and footer may still be queued: scratch and tail are reused
        guard id > lastID else {
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: id, call: "beginRecord",
                               expected: "a record id above \(lastID) (ids strictly increase)", found: "\(id)"))
        }
        guard meta.count <= ImageLayout.metaMaxLength else {
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: id, call: "beginRecord",
                               expected: "meta of at most \(ImageLayout.metaMaxLength) bytes", found: "\(meta.count) bytes"))
        }
        let flags = ImageLayout.alignsData(metaLength: UInt32(meta.count), dataLength: dataLength, offset: bytesWritten)
            ? ImageLayout.recordFlagAlignedData : 0
        guard ImageLayout.recordSize(metaLength: UInt32(meta.count), dataLength: dataLength, offset: bytesWritten, flags: flags) != nil else {
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: id, call: "beginRecord",
                               expected: "a data length that fits a file", found: "\(dataLength)"))
        }
        record = ImageIndexEntry(id: id, parent: parent, type: type, metaLength: UInt32(meta.count), offset: bytesWritten,
                                 dataLength: dataLength, flags: flags)
        ImageRecordHeader(type: type, id: id, parent: parent, metaLength: UInt32(meta.count), dataLength: dataLength, flags: flags)
            .encode(into: scratch)
        let h = ImageLayout.recordHeaderSize
        if meta.count > 0 { UnsafeMutableRawBufferPointer(rebasing: scratch[h..<(h + meta.count)]).copyMemory(from: meta) }
        pending = Int(record.dataOffset - record.offset)  // header, meta, pad (to 8, or to a page for big data)
        scratch[(h + meta.count)..<pending].initializeMemory(as: UInt8.self, repeating: 0)
        var c = CRC32C()
        c.update(UnsafeRawBufferPointer(rebasing: scratch[0..<pending]))
        headCRC = c.value
        c = CRC32C()
        c.update(meta)
        metaCRC = c.value
        dataCRC = CRC32C()
        dataWritten = 0
        lastID = id
        state = .inRecord(footerWritten: false)
    }

    /// Appends the next fragment of the open record's data, written straight from `bytes`.
    /// The fragments must add up to the record's `dataLength`. O(bytes.count), no allocation.
    /// `checksum`: the sender's CRC-32C of `bytes`, used instead of a pass over them when the
    /// writer takes sender checksums (O(1) then, O(log bytes.count) when the length changed);
    /// ignored otherwise.
    public func appendData(_ bytes: UnsafeRawBufferPointer, checksum: UInt32? = nil) throws(ImageError) {
        guard case .inRecord(false) = state else { throw misuseOutsideRecord("appendData") }
        guard UInt64(bytes.count) <= record.dataLength - dataWritten else {
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: record.id, call: "appendData",
                               expected: "at most \(record.dataLength - dataWritten) more data bytes (data length \(record.dataLength))",
                               found: "\(bytes.count)"))
        }
        if bytes.count == 0 { return }
        // The running CRC and the shift cache are copied out and back (plain values): a
        // mutating call on the stored property itself would hold an access across the
        // call, which Swift checks at run time (~100 instructions a fragment).
        var crc = dataCRC
        if senderChecksums, let checksum {
            var cache = shifts
            crc.append(crc: checksum, shift: cache.shift(length: bytes.count))
            shifts = cache
            sawSenderChecksum = true
        } else if !checkDataAtFinish {
            crc.update(bytes)
        }
        dataCRC = crc
        dataWritten += UInt64(bytes.count)
        let last = dataWritten == record.dataLength
        let tailCount = last ? buildTail() : 0
        try write(UnsafeRawBufferPointer(rebasing: scratch[0..<pending]), bytes, UnsafeRawBufferPointer(rebasing: tail[0..<tailCount]))
        pending = 0
        if last { recordComplete() }
    }

    /// Closes the open record; its data must be complete. A record without data is written
    /// here, whole, in one write.
    public func endRecord() throws(ImageError) {
        guard case let .inRecord(footerWritten) = state else { throw misuseOutsideRecord("endRecord") }
        guard footerWritten || record.dataLength == 0 else {
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: record.id, call: "endRecord",
                               expected: "\(record.dataLength) data bytes", found: "\(dataWritten)"))
        }
        if !footerWritten {
            let n = buildTail()
            try write(UnsafeRawBufferPointer(rebasing: scratch[0..<pending]), UnsafeRawBufferPointer(rebasing: tail[0..<n]), nil)
            pending = 0
            recordComplete()
        }
        state = .idle
    }

    /// Writes the index and the trailer, which makes the image complete. `summary` is the
    /// sender's (`CKPT_CMD_STREAM_END`); it must equal what was written (record count, meta +
    /// data bytes, their CRC-32C), else `.summaryMismatch` and no trailer. No fsync.
    public func finish(summary: StreamSummary) throws(ImageError) {
        try expectIdle("finish", id: nil)
        try flush(all: checksums != .computed)  // the checks read the records from the file
        if checkDataAtFinish { try settleRecords() }
        let records = recordsWritten, mine = streamSummary
        for (field, expected, found) in [("records", summary.records, records), ("bytes", summary.bytes, mine.bytes),
                                         ("checksum", UInt64(summary.checksum), UInt64(mine.checksum))] where expected != found {
            throw fail(.summaryMismatch(path: path, offset: bytesWritten, field: field, expected: expected, found: found))
        }
        if senderChecksums { try deferDataCheck() }
        let indexOffset = bytesWritten
        var indexCRC = CombinedCRC()
        let indexHeader = tail
        indexHeader.put32(ImageLayout.indexMagic, 0)
        indexHeader.put32(UInt32(ImageLayout.indexEntrySize), 4)
        let h = UnsafeRawBufferPointer(rebasing: indexHeader[0..<ImageLayout.indexHeaderSize])
        indexCRC.append(h)
        index.withUnsafeBytes { indexCRC.append($0) }
        fileCRC.append(crc: indexCRC.value, length: indexCRC.length)
        let trailer = ImageTrailer(
            indexOffset: indexOffset, indexCount: records, summary: summary, indexCRC: indexCRC.value, fileCRC: fileCRC.value)
        let trailerBytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<ImageLayout.trailerSize])
        trailer.encode(into: trailerBytes)
        try withBytes(index) { (entries) throws(ImageError) in
            try write(h, entries, UnsafeRawBufferPointer(trailerBytes))
            try flush(all: true)
        }
        state = .finished
    }

    // MARK: Internals

    /// Data pad + footer into `tail`; returns their length. The record's CRC covers header,
    /// meta, pads and data: combined from `headCRC` and the data's CRC, no second pass.
    private func buildTail() -> Int {
        let pad = Int(ImageLayout.align8(record.dataLength) - record.dataLength)
        tail[0..<8].initializeMemory(as: UInt8.self, repeating: 0)
        // checkDataAtFinish: 0 for now, settleRecords writes the CRC here.
        let body = checkDataAtFinish ? 0 : Self.bodyCRC(head: headCRC, data: dataCRC, dataLength: record.dataLength, pad: pad)
        tail.put32(body, pad)
        tail.put32(ImageLayout.recordEndMagic, pad + 4)
        return pad + ImageLayout.recordFooterSize
    }

    /// A record body's CRC (header, meta, pads, data) from its head's CRC and its data's,
    /// the data pad's zeros added: no second pass over the data.
    private static func bodyCRC(head: UInt32, data: CRC32C, dataLength: UInt64, pad: Int) -> UInt32 {
        var padded = data
        if pad > 0 { withUnsafeBytes(of: UInt64(0)) { padded.update(UnsafeRawBufferPointer(rebasing: $0[0..<pad])) } }
        return CRC32CCombine.combine(head, padded.value, lengthB: dataLength + UInt64(pad))
    }

    /// The open record is in the file: account for it (file and stream CRCs, index).
    private func recordComplete() {
        let bodyLength = record.recordSize - UInt64(ImageLayout.recordFooterSize)
        let pad = Int(ImageLayout.align8(record.dataLength) - record.dataLength)
        if checkDataAtFinish {
            unsettled.append(UnsettledRecord(
                headCRC: headCRC, metaCRC: metaCRC, metaLength: record.metaLength, dataOffset: record.dataOffset,
                dataLength: record.dataLength, pad: pad, bodyLength: bodyLength))
        } else {
            let footer = UnsafeRawBufferPointer(rebasing: tail[pad..<(pad + ImageLayout.recordFooterSize)])
            fileCRC.append(crc: footer.le32(0), length: bodyLength)  // the footer's CRC is the body's
            fileCRC.append(footer)
            streamCRC.append(crc: metaCRC, length: UInt64(record.metaLength))
            streamCRC.append(crc: dataCRC.value, length: record.dataLength)
            if senderChecksums, record.dataLength > 0 {
                expected.append(.init(id: record.id, offset: record.dataOffset, length: record.dataLength, crc: dataCRC.value))
            }
        }
        streamBytes += UInt64(record.metaLength) + record.dataLength
        let at = index.count
        index.append(contentsOf: repeatElement(0, count: ImageLayout.indexEntrySize))
        index.withUnsafeMutableBytes { record.encode(into: UnsafeMutableRawBufferPointer(rebasing: $0[at...])) }
        state = .inRecord(footerWritten: true)
    }

    /// For an image that will not be finished (its stream failed): writes what is queued and,
    /// with `checkDataAtFinish`, the CRCs of the records complete so far, so the file's sound
    /// part (`PartialImageScanner`) is every complete record, as without it.
    public func settleCompleteRecords() throws(ImageError) {
        try flush(all: true)
        if checkDataAtFinish { try settleRecords() }
    }

    /// `checkDataAtFinish`: every record's data CRC (the trailing check's, which this thread
    /// helps finish), in record order; its footer's CRC written in place; the file's and the
    /// stream's CRCs as `recordComplete` would have made them. Everything is in the file
    /// (`finish` flushed). Ends the trailing check: records after this are read here.
    private func settleRecords() throws(ImageError) {
        var checked: [CRC32C] = []
        if let trailing {
            handOff()
            let (spans, readHere) = try trailing.finish(fd)
            checked = spans
            readAtFinish += readHere
            self.trailing = nil
        }
        for (i, r) in unsettled.enumerated() {
            var data = CRC32C()
            if i < checked.count {
                data = checked[i]
            } else if r.dataLength > 0 {
                data.append(crc: try FileRangeChecksum.crc32c(fd, offset: r.dataOffset, length: r.dataLength, path: path),
                            length: Int(r.dataLength))
                readAtFinish += r.dataLength
            }
            let body = Self.bodyCRC(head: r.headCRC, data: data, dataLength: r.dataLength, pad: r.pad)
            tail.put32(body, 0)
            tail.put32(ImageLayout.recordEndMagic, 4)
            let footer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tail)[0..<ImageLayout.recordFooterSize])
            let at = r.dataOffset + r.dataLength + UInt64(r.pad)
            do {
                let n = try fd.write(toAbsoluteOffset: Int64(at), UnsafeRawBufferPointer(rebasing: footer[0..<4]), retryOnInterrupt: true)
                if n != 4 { throw Errno.noSpace }
            } catch {
                throw fail(.io(operation: "write", path: path, offset: at, errno: (error as? Errno) ?? .ioError))
            }
            fileCRC.append(crc: body, length: r.bodyLength)
            fileCRC.append(footer)
            streamCRC.append(crc: r.metaCRC, length: UInt64(r.metaLength))
            streamCRC.append(crc: data.value, length: r.dataLength)
        }
        unsettled = []
        handedOff = 0
    }

    /// `senderChecksums`, at `finish`: what the trailing check has not done becomes the
    /// deferred check (on a `dup` of the descriptor, which the caller may close), when some
    /// data stood on the sender's word; else the trailing check just ends.
    private func deferDataCheck() throws(ImageError) {
        defer { trailing = nil }
        guard sawSenderChecksum else {
            trailing?.cancel()
            return
        }
        let copy: FileDescriptor
        do {
            copy = try fd.duplicate()
        } catch {
            trailing?.cancel()
            throw fail(.io(operation: "dup", path: path, offset: bytesWritten, errno: (error as? Errno) ?? .ioError))
        }
        deferred = DeferredDataCheck(fd: copy, path: path, records: expected, trailing: trailing)
        expected = []
    }

    /// `senderChecksums`: the check of the data written on the sender's word, after a
    /// successful `finish` (nil before, after the first call, and when no fragment came with
    /// a checksum). Its `run` may go on after the image is published, on another thread.
    public func takeDeferredCheck() -> DeferredDataCheck? {
        defer { deferred = nil }
        return deferred
    }

    /// Where the data of the last record handed to the trailing check ends (tests: never
    /// past what is in the file).
    var handedOffDataEnd: UInt64 {
        guard handedOff > 0 else { return 0 }
        if senderChecksums { return expected[handedOff - 1].offset + expected[handedOff - 1].length }
        return unsettled[handedOff - 1].dataOffset + unsettled[handedOff - 1].dataLength
    }

    /// The complete records not yet handed to the trailing check whose data is in the file
    /// (all of them but, with `alignWrites`, the last one or two).
    private func handOff() {
        guard let trailing else { return }
        var end = handedOff
        if senderChecksums {
            while end < expected.count, expected[end].offset + expected[end].length <= inFile { end += 1 }
            guard end > handedOff else { return }
            trailing.add(expected[handedOff..<end].lazy.map { .init(offset: $0.offset, length: $0.length) })
        } else {
            while end < unsettled.count, unsettled[end].dataOffset + unsettled[end].dataLength <= inFile { end += 1 }
            guard end > handedOff else { return }
            trailing.add(unsettled[handedOff..<end].lazy.map { .init(offset: $0.dataOffset, length: $0.dataLength) })
        }
        handedOff = end
    }

    /// Up to three parts in one writev; bytesWritten advances only on success. Coalescing,
    /// the parts are queued instead (bytesWritten counts them) and written by `flush()`,
    /// which runs here when the queue is full. No allocation: the iovecs live in `iov`.
    private func write(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer?, _ c: UnsafeRawBufferPointer?) throws(ImageError) {
        var total = 0
        func add(_ part: UnsafeRawBufferPointer?) {
            guard let part, let base = part.baseAddress, part.count > 0 else { return }
            iov[1 + queuedParts] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: part.count)
            queuedParts += 1
            total += part.count
        }
        add(a)
        add(b)
        add(c)
        written += UInt64(total)
        if coalesceBytes == 0 || queuedBytes >= UInt64(coalesceBytes) || queuedParts > Self.maxQueuedParts {
            try flush()
        }
    }

    /// Writes what coalescing queued (nothing to do otherwise). After it returns, every byte
    /// of every call so far is in the file, or (`alignWrites`) copied into the writer's own
    /// buffer, and the caller may reuse the fragment buffers.
    public func flush() throws(ImageError) { try flush(all: false) }

    /// `all`: the kept bytes too, whatever block they end in (the image's end, a failed
    /// stream's last complete record).
    private func flush(all: Bool) throws(ImageError) {
        if case let .failed(first) = state, queuedParts > 0 || kept > 0 {
            queuedParts = 0
            kept = 0
            throw first
        }
        guard queuedParts > 0 || (all && kept > 0) else { return }
        defer { queuedParts = 0 }
        let end = written
        let cut = alignWrites == 0 || all ? end : end & ~UInt64(alignWrites - 1)
        if cut <= inFile {
            // No block boundary past what is in the file: keep all of it for the next write.
            keep(afterPart: 0)
            return
        }
        // iov[0] = the kept bytes, then the parts; written up to `cut`, the rest kept after.
        iov[0] = iovec(iov_base: keptBytes.baseAddress, iov_len: kept)
        var last = queuedParts  // the part `cut` falls in (iov index), and how much of it is written
        var rest = end - cut
        while rest > 0, UInt64(iov[last].iov_len) <= rest {
            rest -= UInt64(iov[last].iov_len)
            last -= 1
        }
        let whole = iov[last]  // writeAll consumes the iovecs it writes
        iov[last].iov_len -= Int(rest)
        if cut > allocatedEnd, allocateAhead > 0 { allocate(through: cut) }
        do {
            try ImageFileIO.writeAll(fd, iov, count: last + 1, offset: inFile, path: path, writev: writevCall)
        } catch {
            written = inFile  // what is surely in the file
            kept = 0
            throw fail(error)
        }
        inFile = cut
        kept = 0
        if rest > 0 {
            append(UnsafeRawBufferPointer(start: whole.iov_base! + (whole.iov_len - Int(rest)), count: Int(rest)))
        }
        keep(afterPart: last)
        handOff()  // every complete record before `inFile` is in the file now
    }

    /// Allocates the blocks from `allocatedEnd` past `end` (the type's comment): a quarter
    /// of `end`, at least 1 MiB, at most `allocateAhead`, and all up to `end`. A refusal
    /// turns it off for this writer.
    private func allocate(through end: UInt64) {
        let mib: UInt64 = 1 << 20
        let step = min(allocateAhead, max(mib, end / 4 / mib * mib))
        let length = max(step, (end - allocatedEnd + mib - 1) / mib * mib)
        guard allocateCall(fd.rawValue, allocatedEnd, length) == 0 else {
            allocateAhead = 0
            return
        }
        allocatedEnd += length
        allocatedAhead = true
    }

    /// Copies the queued parts after iov index `part` into the kept bytes.
    private func keep(afterPart part: Int) {
        var i = part + 1
        while i <= queuedParts {
            append(UnsafeRawBufferPointer(start: iov[i].iov_base, count: iov[i].iov_len))
            i += 1
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(kept + bytes.count <= keptBytes.count, "kept bytes past a block")
        UnsafeMutableRawBufferPointer(rebasing: keptBytes[kept...]).copyMemory(from: bytes)
        kept += bytes.count
    }

    private func fail(_ error: ImageError) -> ImageError {
        state = .failed(error)
        return error
    }

    private func expectIdle(_ call: String, id: UInt32?) throws(ImageError) {
        switch state {
        case .idle: return
        case .inRecord:
            throw fail(.misuse(path: path, offset: bytesWritten, recordID: id, call: call,
                               expected: "no open record", found: "record \(record.id) still open (endRecord not called)"))
        case .finished, .failed: throw misuseOutsideRecord(call)
        }
    }

    private func misuseOutsideRecord(_ call: String) -> ImageError {
        let found: String
        switch state {
        case .idle: found = "no open record"
        case .inRecord: found = "record \(record.id) with all its \(record.dataLength) data bytes written"
        case .finished: found = "a finished image"
        case let .failed(first): return .misuse(path: path, offset: bytesWritten, recordID: nil, call: call,
                                                expected: "a writer that has not failed", found: "it failed: \(first)")
        }
        return fail(.misuse(path: path, offset: bytesWritten, recordID: nil, call: call, expected: "an open record", found: found))
    }
}
