import CkptProtocol
import CkptSystem
import Foundation
import Logging
import XCTest
@testable import CkptListener

/// How many fragments the sink's writer takes into one write. The writer thread writes (and
/// frees the buffers) after 48 of a batch's, so the receive thread beside it has buffers
/// left; inline, nothing is received while a batch is written, so the whole batch is one
/// write per stream (at 4 KiB fragments that halved the `writev` calls, docs/benchmarks.md,
/// "Issue 13: one write per batch inline").
final class SinkHoldTests: XCTestCase {
    func testInlineWritesAWholeBatchOnce() throws {
        XCTAssertEqual(try appendsPerFlush(writer: .inline, fragments: 64), [64])
    }

    func testTheWriterThreadWritesEvery48() throws {
        XCTAssertEqual(try appendsPerFlush(writer: .thread, fragments: 64), [48, 16])
    }

    /// Submits one stream's `fragments` writes (one pool buffer each) as one batch, flushes,
    /// and returns how many `appendData` calls each of the stream writer's flushes followed.
    /// The writer thread is held in another stream's write meanwhile, so it takes them all
    /// in one batch, as inline does.
    private func appendsPerFlush(writer: ImageSink.Writer, fragments: Int) throws -> [Int] {
        let directory = try ImageDirectory(path: try makeTemporaryDirectory())
        let pool = BufferPool(count: fragments + 1, size: 4096)
        let log = Recorded<WriterEvent>()
        let gate = DispatchSemaphore(value: 0), entered = DispatchSemaphore(value: 0)
        let sink = ImageSink(
            directory: directory, pool: pool, logger: Logger(label: "test"), host: "h",
            makeWriter: { _, info in
                info.crid == 60 ? FlushCountingWriter(log: Recorded(), gate: (entered, gate))
                    : FlushCountingWriter(log: log, gate: nil)
            },
            onSettled: { _ in }, onWriterFailure: { _ in }, writer: writer)
        sink.start()
        defer { sink.stop() }
        func write(session: UInt64, crid: UInt64) throws {
            let buffer = try XCTUnwrap(pool.acquire(deadlineNs: monotonicNanoseconds() + 1_000_000_000))
            let data = UnsafeRawBufferPointer(pool.buffer(buffer))
            sink.submit(.write(WriteOp(session: session, crid: crid, head: nil, data: data, endsRecord: false), buffer: buffer))
        }
        if writer == .thread {
            sink.submit(.open(session: 2, stream: StreamStart(crid: 60, pid: 1, captureStartNs: 0)))
            try write(session: 2, crid: 60)
            sink.flush()
            // The writer thread took that batch alone and waits at `gate` in its write.
            XCTAssertEqual(entered.wait(timeout: .now() + 5), .success)
        }
        sink.submit(.open(session: 1, stream: StreamStart(crid: 61, pid: 1, captureStartNs: 0)))
        for _ in 0..<fragments { try write(session: 1, crid: 61) }
        sink.flush()
        gate.signal()
        try waitFor { log.values.filter { $0 == .append }.count == fragments && pool.snapshot().inUse == 0 }
        return flushSizes(log.values)
    }
}

/// What a counting writer did, in order.
private enum WriterEvent: Sendable, Equatable { case append, flush }

/// How many `append`s each `flush` that followed any wrote.
private func flushSizes(_ events: [WriterEvent]) -> [Int] {
    var counts: [Int] = [], pending = 0
    for event in events {
        switch event {
        case .append: pending += 1
        case .flush:
            if pending > 0 { counts.append(pending) }
            pending = 0
        }
    }
    return counts
}

/// Writes nothing; logs each fragment and each flush. With a `gate`, its first fragment
/// signals `entered`, then waits at `wait` (at most 5 s).
private final class FlushCountingWriter: StreamImageWriter {
    private let log: Recorded<WriterEvent>
    private var gate: (entered: DispatchSemaphore, wait: DispatchSemaphore)?
    private var bytes: UInt64 = 0
    init(log: Recorded<WriterEvent>, gate: (entered: DispatchSemaphore, wait: DispatchSemaphore)?) {
        self.log = log
        self.gate = gate
    }
    func beginRecord(_ head: RecordHead) throws {}
    func appendData(_ data: UnsafeRawBufferPointer, checksum: UInt32?) throws {
        if let gate {
            gate.entered.signal()
            _ = gate.wait.wait(timeout: .now() + 5)
        }
        gate = nil
        bytes += UInt64(data.count)
        log.add(.append)
    }
    func endRecord() throws {}
    func flush() throws { log.add(.flush) }
    func keepCompleteRecords() throws {}
    func finish(summary: StreamSummary) throws {}
    var written: StreamSummary { StreamSummary(records: 0, bytes: bytes, checksum: 0) }
    var dataCheckedAtEnd: UInt64? { nil }
}
