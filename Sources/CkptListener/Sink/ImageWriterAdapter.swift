import CkptImage
import CkptProtocol
import CkptSystem
import SystemPackage

/// The image writers `ckpt listen` uses.
public enum ImageWriters {
    /// CkptImage's `ImageWriter`: the image format, written append-only as records arrive.
    public static let standard: StreamImageWriterFactory = through(.writev)

    /// The image format, its bytes written by `path` (`ImageWritePath`), the data checked as
    /// `dataCheck` says, the file's blocks allocated ahead of the writes in steps of up to
    /// `allocateAhead` bytes (0: not; `ImageWriter`).
    public static func through(_ path: ImageWritePath, dataCheck: DataCheck = .inline,
                               allocateAhead: UInt64 = 0) -> StreamImageWriterFactory {
        { fd, info in
            try ImageWriterAdapter(fd: fd, info: info, writePath: path, dataCheck: dataCheck, allocateAhead: allocateAhead)
        }
    }
}

/// When a stream's data is checked against its sender's checksums (`ckpt listen --data-check`).
public enum DataCheck: String, Sendable, CaseIterable {
    /// Each fragment checksummed as it is written; the image published only if the stream's
    /// checksum matches.
    case inline
    /// Read back from the file behind the writer and by the stream's end; published only if
    /// it matches.
    case atEnd = "at-end"
    /// The sender's per-fragment checksums (`CKPT_A_DATA_CHECKSUM`) taken as the image's; the
    /// data read back behind the writer and, for what is left at the end, after the image is
    /// published (`DeferredDataCheck`); set aside as `<crid>.corrupt` if its bytes differ.
    /// Fragments without one are checksummed inline.
    case afterPublish = "after-publish"

    /// Where the image writer takes the data's CRC-32C from, for this check.
    var checksums: ImageWriter.DataChecksums {
        switch self {
        case .inline: .computed
        case .atEnd: .readBack
        case .afterPublish: .sender
        }
    }
}

/// `StreamImageWriter` over CkptImage's `ImageWriter` (same calls, one per fragment; the
/// writer copies nothing but the record's meta, and coalesces fragments' writes).
final class ImageWriterAdapter: StreamImageWriter {
    private let writer: ImageWriter

    init(fd: Int32, info: StreamImageInfo, writePath: ImageWritePath, dataCheck: DataCheck, allocateAhead: UInt64 = 0) throws {
        writer = try ImageWriter(
            fd: FileDescriptor(rawValue: fd),
            header: ImageHeader(crid: info.crid, pid: info.pid, captureStartNs: info.captureStartNs, host: info.host),
            path: info.fileName, coalesceBytes: Self.coalesceBytes, writePath: writePath,
            dataChecksums: dataCheck.checksums, alignWrites: Self.alignWrites, allocateAhead: allocateAhead)
    }

    /// Fragments are written in groups of up to ~1 MiB: one system call for many fragments,
    /// and writes large enough for the page cache's large folios. Measured against 128 KiB,
    /// 512 KiB and 2 MiB (docs/benchmarks.md, "Write size again"); on an earlier host of
    /// this project 512 KiB writes had been the slower ones, so the cap is a measurement,
    /// not a law.
    static let coalesceBytes = 1024 * 1024

    /// Writes end on 32 KiB boundaries (`ImageWriter`'s `alignWrites`): with many streams at
    /// once each write is one fragment, and ext4 made four folios of a 32 KiB one that began
    /// a page past a boundary (docs/benchmarks.md, "Writes in whole blocks"). At most 32 KiB
    /// less a byte per open image is copied and kept.
    static let alignWrites = 32 * 1024

    func beginRecord(_ head: RecordHead) throws {
        try writer.beginRecord(type: head.type, id: head.id, parent: head.parent, meta: head.meta, dataLength: head.dataLength)
    }

    func appendData(_ bytes: UnsafeRawBufferPointer, checksum: UInt32?) throws { try writer.appendData(bytes, checksum: checksum) }
    func flush() throws { try writer.flush() }
    func keepCompleteRecords() throws { try writer.settleCompleteRecords() }
    func endRecord() throws { try writer.endRecord() }
    func finish(summary: StreamSummary) throws { try writer.finish(summary: summary) }
    var written: StreamSummary { writer.streamSummary }
    var dataCheckedAtEnd: UInt64? { writer.bytesCheckedAtFinish }
    func takeDeferredCheck() -> DeferredDataCheck? { writer.takeDeferredCheck() }
    var allocatedAhead: Bool { writer.allocatedAhead }
}

/// An error's text for a failure reason: errno names spelled out (`ENOSPC`), so an
/// operator can grep for them.
func errorText(_ error: any Error) -> String {
    switch error {
    case let errno as Errno:
        return describe(errno)
    case let ImageError.io(operation, path, offset, errno):
        return "\(operation) \(path) at offset \(offset): \(describe(errno))"
    default:
        return "\(error)"
    }
}
