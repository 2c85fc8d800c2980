import CkptProtocol

/// Reads a `.partial` or `.failed` file (an image whose stream did not finish, so it has
/// no index or trailer) record by record from the start, and stops at the first record
/// that is truncated or damaged, saying where and why. Every record it reports passed all
/// of the verifier's per-record checks (header, CRC, padding, footer, tree rules).
///
/// A complete image scans too: the scan stops at its index (`.reachedIndex`).
/// For `ckpt list` / `ckpt show` of failed captures.
public struct PartialImageScanner {
    public let path: String

    /// Set when scanning an already open source (the verifier's fallback).
    private var opened: ImageFile?

    public init(path: String) {
        self.path = path
    }

    init(file: ImageFile) {
        path = file.path
        opened = file
    }

    /// One good record, as the scan passes it. `meta` is valid during the callback only.
    public struct Record {
        public var entry: ImageIndexEntry
        public var meta: UnsafeRawBufferPointer
    }

    /// Why the scan stopped.
    public enum Stop: Equatable, Sendable {
        /// The file ends right after a record (or right after the header).
        case endOfFile
        /// An index follows the records (the file is, or was nearly, a complete image).
        case reachedIndex
        /// The record at `error.offset` is truncated or damaged.
        case damaged(ImageError)
    }

    public struct Result: Equatable, Sendable {
        public var header: ImageHeader
        /// From the first record, when it is a good header record.
        public var source: ImageSource?
        /// Good records, and their stream totals (what `CKPT_CMD_STREAM_END` would have said).
        public var summary: StreamSummary
        public var lastRecordID: UInt32?
        /// Offset just after the last good record: everything before it is sound.
        public var goodBytes: UInt64
        public var fileSize: UInt64
        public var stop: Stop
    }

    /// Scans the whole file. Throws only when there is nothing to scan: the file cannot be
    /// opened or its header is bad. Memory: O(1) (one read window).
    public func scan(onRecord: (Record) -> Void = { _ in }) throws(ImageError) -> Result {
        let file: ImageFile
        if let opened { file = opened } else { file = try ImageFile(path: path) }
        let (header, start) = try ImageHeader.read(from: file)
        var walker = RecordWalker(file: file, start: start, mode: .partial)
        defer { walker.release() }
        var source: ImageSource?
        var stop = Stop.endOfFile
        do throws(ImageError) {
            while let (_, metaView) = try walker.begin() {
                let e = try walker.finish()
                if walker.tree.records == 1, e.type == .header {
                    source = try? ImageSource(headerRecord: e, meta: Array(metaView), path: path)
                }
                onRecord(Record(entry: e, meta: metaView))
            }
            if walker.reachedIndex { stop = .reachedIndex }
        } catch {
            stop = .damaged(error)
        }
        return Result(
            header: header, source: source, summary: walker.summary.summary, lastRecordID: walker.lastGoodID,
            goodBytes: walker.offset, fileSize: file.size, stop: stop)
    }
}
