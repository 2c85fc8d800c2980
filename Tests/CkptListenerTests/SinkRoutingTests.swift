import CkptProtocol
import CkptSystem
import Foundation
import Logging
import XCTest
@testable import CkptListener

/// The sink's writer looks a stream's image up once for a run of writes to that stream
/// within a batch (`SinkWriter.Unflushed.last`), not once per write. Each write must still
/// reach its own stream's writer when the batch moves between streams, and none may reach
/// a writer whose image is gone: after that writer failed, or after the stream's `.fail`.
final class SinkRoutingTests: XCTestCase {
    func testEachWriteReachesItsOwnStreamAndNoneAfterItsImageIsGone() throws {
        for writer in ImageSink.Writer.allCases {
            XCTAssertEqual(try routed(writer: writer), ["71:1", "71:2", "72:3", "71:4 failed", "72:6", "73:7", "72:9"],
                           "\(writer)")
        }
    }

    /// One batch of writes to three streams (inline: one batch; the writer thread may take it
    /// in parts), each write's data one tag byte; returns what the stream writers saw.
    private func routed(writer: ImageSink.Writer) throws -> [String] {
        let directory = try ImageDirectory(path: try makeTemporaryDirectory())
        let pool = BufferPool(count: 16, size: 4096)
        let log = Recorded<String>()
        let sink = ImageSink(
            directory: directory, pool: pool, logger: Logger(label: "test"), host: "h",
            makeWriter: { _, info in TaggingWriter(crid: info.crid, failAtAppend: info.crid == 71 ? 3 : nil, log: log) },
            onSettled: { _ in }, onWriterFailure: { _ in }, writer: writer)
        sink.start()
        defer { sink.stop() }
        func open(_ session: UInt64, crid: UInt64) {
            sink.submit(.open(session: session, stream: StreamStart(crid: crid, pid: 1, captureStartNs: 0)))
        }
        func write(_ session: UInt64, crid: UInt64, tag: UInt8) throws {
            let buffer = try XCTUnwrap(pool.acquire(deadlineNs: monotonicNanoseconds() + 1_000_000_000))
            pool.buffer(buffer)[0] = tag
            let data = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(pool.buffer(buffer))[0..<1])
            sink.submit(.write(WriteOp(session: session, crid: crid, head: nil, data: data, endsRecord: false), buffer: buffer))
        }
        open(1, crid: 71)
        open(2, crid: 72)
        open(3, crid: 73)
        try write(1, crid: 71, tag: 1)
        try write(1, crid: 71, tag: 2)
        try write(2, crid: 72, tag: 3)
        try write(1, crid: 71, tag: 4)  // 71's writer fails here: its image is gone
        try write(1, crid: 71, tag: 5)  // so this is dropped
        try write(2, crid: 72, tag: 6)
        try write(3, crid: 73, tag: 7)
        sink.submit(sink.failOp(session: 3, StreamFailure(crid: 73, seq: 9, recordID: nil, rule: .malformed("test"))))
        try write(3, crid: 73, tag: 8)  // dropped: 73 failed
        try write(2, crid: 72, tag: 9)
        sink.flush()
        try waitFor { pool.snapshot().inUse == 0 }
        return log.values
    }
}

/// Writes nothing; logs `crid:tag` for each fragment (its first byte). With `failAtAppend`
/// N, the Nth fragment throws (logged as `crid:tag failed`).
private final class TaggingWriter: StreamImageWriter {
    private let crid: UInt64
    private let failAtAppend: Int?
    private let log: Recorded<String>
    private var appends = 0
    init(crid: UInt64, failAtAppend: Int?, log: Recorded<String>) {
        self.crid = crid
        self.failAtAppend = failAtAppend
        self.log = log
    }
    struct Injected: Error {}
    func beginRecord(_ head: RecordHead) throws {}
    func appendData(_ data: UnsafeRawBufferPointer, checksum: UInt32?) throws {
        appends += 1
        if appends == failAtAppend {
            log.add("\(crid):\(data[0]) failed")
            throw Injected()
        }
        log.add("\(crid):\(data[0])")
    }
    func endRecord() throws {}
    func flush() throws {}
    func keepCompleteRecords() throws {}
    func finish(summary: StreamSummary) throws {}
    var written: StreamSummary { StreamSummary(records: 0, bytes: 0, checksum: 0) }
    var dataCheckedAtEnd: UInt64? { nil }
}
