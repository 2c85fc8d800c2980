#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Foundation
import SystemPackage

/// Writes a test image record by record (ids from 1, the summary over what was written):
/// `record` returns each record's id for its children; `finish` publishes the trailer and
/// opens the image. (Shared by the restore and CLI tests.)
public final class ImageFixture {
    public let path: String
    private let fd: FileDescriptor
    private let writer: ImageWriter
    private var summary = StreamSummaryBuilder()
    private var id: UInt32 = 0

    /// A new image file in the temporary directory, or at `path`; its file header says `crid`.
    public init(_ name: String, crid: UInt64 = 1, path: String? = nil) throws {
        self.path = path ?? NSTemporaryDirectory() + "ckpt-\(name)-\(getpid())-\(UUID().uuidString).ckpt"
        fd = try FileDescriptor.open(FilePath(self.path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        writer = try ImageWriter(fd: fd, header: ImageHeader(crid: crid, pid: 77, captureStartNs: 1, host: "t"), path: self.path)
    }

    @discardableResult
    public func record(_ meta: RecordMeta, parent: UInt32, data: [UInt8] = []) throws -> UInt32 {
        id += 1
        let payload = meta.encodedPayload()
        try payload.withUnsafeBytes { try writer.beginRecord(type: meta.type, id: id, parent: parent, meta: $0, dataLength: UInt64(data.count)) }
        try data.withUnsafeBytes { if !$0.isEmpty { try writer.appendData($0) } }
        try writer.endRecord()
        payload.withUnsafeBytes { summary.beginRecord(meta: $0) }
        data.withUnsafeBytes { summary.data($0) }
        return id
    }

    public func finish() throws -> (ImageReader, String) {
        try writer.finish(summary: summary.summary)
        try fd.close()
        return (try ImageReader(path: path), path)
    }
}
