import CkptImage
import CkptProtocol

/// What the image sink needs from an image file writer: the record-by-record calls of
/// CkptImage's `ImageWriter` (see `ImageWriterAdapter`). A protocol so the sink's failure
/// handling is tested with writers that fail on cue.
public protocol StreamImageWriter: AnyObject {
    func beginRecord(_ head: RecordHead) throws
    /// One fragment's data, written straight from the receive buffer; the writer may queue
    /// it (coalescing), so the buffer must stay valid until `flush()` returns. `checksum`:
    /// the sender's CRC-32C of it (`CKPT_A_DATA_CHECKSUM`), when the fragment had one.
    func appendData(_ bytes: UnsafeRawBufferPointer, checksum: UInt32?) throws
    /// Writes whatever is queued; afterwards the fragment buffers may be reused.
    func flush() throws
    /// For a stream that failed: writes what is queued and makes the records complete so far
    /// whole in the file (a writer that checks the data at `finish` writes their CRCs now),
    /// so the kept `.failed` file shows them (`ckpt show`).
    func keepCompleteRecords() throws
    func endRecord() throws
    /// Index and trailer; the sink fsyncs and renames afterwards. Throws
    /// `ImageError.summaryMismatch` (and writes no trailer) when `summary`, the sender's,
    /// differs from `written`.
    func finish(summary: StreamSummary) throws
    /// Records, meta + data bytes and their CRC-32C taken in so far: the receiving side of
    /// the stream's checksum, from the writer's one pass over the data (a writer that checks
    /// the data at `finish` has the checksum complete only after it).
    var written: StreamSummary { get }
    /// A writer that checks the data at `finish` (`--data-check at-end`): the data bytes it
    /// read back there itself, after `finish`; nil for one that checks inline.
    var dataCheckedAtEnd: UInt64? { get }
    /// After `finish`: the check of data whose CRCs stand on the sender's checksums, not yet
    /// compared with the bytes written, which the listener runs after publishing the image
    /// (`--data-check after-publish`, `PublishedImageCheck`); nil when there is none.
    func takeDeferredCheck() -> DeferredDataCheck?
    /// Blocks past the bytes written may be allocated (`ImageWriter`'s allocating ahead):
    /// the sink frees them once the file is settled (`ImageDirectory.releaseSurplus`).
    var allocatedAhead: Bool { get }
}

extension StreamImageWriter {
    /// A writer that never takes the sender's checksums.
    public func takeDeferredCheck() -> DeferredDataCheck? { nil }
    /// A writer that never allocates ahead.
    public var allocatedAhead: Bool { false }
}

/// What a new image starts with.
public struct StreamImageInfo: Sendable {
    public var crid: UInt64
    public var pid: UInt32
    /// Wall-clock time the stream began, ns since the epoch.
    public var captureStartNs: UInt64
    public var host: String
    /// The file's name in the image directory (`<crid>.partial`), for errors; set by the sink.
    public var fileName: String = ""
}

/// Makes the writer of a new image on an open, empty file.
public typealias StreamImageWriterFactory = @Sendable (_ fd: Int32, _ info: StreamImageInfo) throws -> StreamImageWriter
