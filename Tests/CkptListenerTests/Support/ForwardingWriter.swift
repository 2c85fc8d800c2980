import CkptImage
import CkptProtocol
@testable import CkptListener

/// A `StreamImageWriter` that passes every call to the real one: test writers subclass it
/// and override the call they slow down, fail or record.
class ForwardingWriter: StreamImageWriter {
    let inner: StreamImageWriter
    init(_ inner: StreamImageWriter) { self.inner = inner }
    func beginRecord(_ head: RecordHead) throws { try inner.beginRecord(head) }
    func appendData(_ bytes: UnsafeRawBufferPointer, checksum: UInt32?) throws { try inner.appendData(bytes, checksum: checksum) }
    func endRecord() throws { try inner.endRecord() }
    func flush() throws { try inner.flush() }
    func keepCompleteRecords() throws { try inner.keepCompleteRecords() }
    func finish(summary: StreamSummary) throws { try inner.finish(summary: summary) }
    var written: StreamSummary { inner.written }
    var dataCheckedAtEnd: UInt64? { inner.dataCheckedAtEnd }
    func takeDeferredCheck() -> DeferredDataCheck? { inner.takeDeferredCheck() }
    var allocatedAhead: Bool { inner.allocatedAhead }
}
