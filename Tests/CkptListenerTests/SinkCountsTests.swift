#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import CkptSystem
import Foundation
import Logging
import XCTest
@testable import CkptListener

/// The listener's spool count is written less settled bytes: a stream must never settle
/// (on the publisher thread) before its bytes are counted as written, or the count would
/// drop below what is in flight (and, unsigned, wrap).
final class SinkCountsTests: XCTestCase {
    func testAStreamsBytesAreCountedBeforeItCanSettle() throws {
        for writer in ImageSink.Writer.allCases { try bytesCountedBeforeSettling(writer: writer) }
    }

    private func bytesCountedBeforeSettling(writer: ImageSink.Writer) throws {
        let directory = try ImageDirectory(path: try makeTemporaryDirectory())
        let pool = BufferPool(count: 2, size: 4096)
        let box = SinkBox()
        let sink = ImageSink(
            directory: directory, pool: pool, logger: Logger(label: "test"), host: "h",
            makeWriter: { _, info in CountingWriter(slow: info.crid == 52, box: box) },
            onSettled: { settled in if settled.crid == 51 { box.settled(writtenThen: box.sink?.bytesWritten ?? 0) } },
            onWriterFailure: { _ in }, writer: writer)
        box.sink = sink
        sink.start()
        let first = try XCTUnwrap(pool.acquire(deadlineNs: monotonicNanoseconds() + 1_000_000_000))
        let second = try XCTUnwrap(pool.acquire(deadlineNs: monotonicNanoseconds() + 1_000_000_000))
        let data = { (b: Int) in UnsafeRawBufferPointer(pool.buffer(b)) }
        let summary = StreamSummary(records: 0, bytes: 4096, checksum: 0)
        // One batch: stream 51 written and completed, then a slow write of stream 52. 51 is
        // published while 52's write still runs.
        sink.submit(.open(session: 1, stream: StreamStart(crid: 51, pid: 1, captureStartNs: 0)))
        sink.submit(.write(WriteOp(session: 1, crid: 51, head: nil, data: data(first), endsRecord: false), buffer: first))
        sink.submit(.complete(session: 1, crid: 51, summary: summary, seq: 2))
        sink.submit(.open(session: 2, stream: StreamStart(crid: 52, pid: 1, captureStartNs: 0)))
        sink.submit(.write(WriteOp(session: 2, crid: 52, head: nil, data: data(second), endsRecord: false), buffer: second))
        sink.flush()
        try waitFor { box.writtenWhenSettled != nil }
        XCTAssertGreaterThanOrEqual(box.writtenWhenSettled ?? 0, 4096, "\(writer)")
        sink.stop()
    }
}

/// What the test's callbacks saw, from any thread.
private final class SinkBox: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: UInt64?
    private let gate = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var sink: ImageSink?
    /// Stream 51 settled: note what was counted as written then, and let the slow write go on.
    func settled(writtenThen: UInt64) {
        lock.lock()
        seen = writtenThen
        lock.unlock()
        gate.signal()
    }
    var writtenWhenSettled: UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }
    /// The slow write waits here until stream 51 has settled (at most 5 s).
    func waitForRelease() { _ = gate.wait(timeout: .now() + 5) }
}

/// Writes nothing; counts what `finish` is asked to check. The slow one blocks its first
/// `appendData` until released.
private final class CountingWriter: StreamImageWriter {
    private let slow: Bool
    private let box: SinkBox
    private var bytes: UInt64 = 0
    init(slow: Bool, box: SinkBox) {
        self.slow = slow
        self.box = box
    }
    func beginRecord(_ head: RecordHead) throws {}
    func appendData(_ data: UnsafeRawBufferPointer, checksum: UInt32?) throws {
        if slow { box.waitForRelease() }
        bytes += UInt64(data.count)
    }
    func endRecord() throws {}
    func flush() throws {}
    func keepCompleteRecords() throws {}
    func finish(summary: StreamSummary) throws {}
    var written: StreamSummary { StreamSummary(records: 0, bytes: bytes, checksum: 0) }
    var dataCheckedAtEnd: UInt64? { nil }
}
