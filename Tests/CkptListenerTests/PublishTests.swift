#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Foundation
import Logging
import XCTest
@testable import CkptListener

/// Streams that end together are published together: every trailer is written before the
/// first fsync and rename, so 64 streams ending at once are not 64 fsyncs in a row between
/// the writer and the rest of the queue.
final class PublishTests: XCTestCase {
    func testStreamsEndingInOneBatchAreAllFinishedBeforeAnyIsPublished() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        let published = ImagesSeen(path)
        let settled = Settled()
        let sink = ImageSink(
            directory: directory, pool: BufferPool(count: 2, size: 4096), logger: Logger(label: "test"),
            makeWriter: { fd, info in RecordingWriter(try ImageWriters.standard(fd, info), seen: published) },
            onSettled: { settled.add($0) }, onWriterFailure: { _ in })
        let empty = StreamSummary(records: 0, bytes: 0, checksum: 0)
        // Queued before the writer thread starts: it takes them as one batch.
        for session in UInt64(1)...3 {
            sink.submit(.open(session: session, info: StreamImageInfo(crid: 40 + session, pid: 1, captureStartNs: 0, host: "h")))
        }
        for session in UInt64(1)...3 {
            sink.submit(.complete(session: session, crid: 40 + session, summary: empty, seq: 1))
        }
        sink.start()
        sink.stop()
        XCTAssertEqual(published.atEachFinish, [[], [], []], "a .ckpt appeared before every trailer of the batch was written")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".ckpt") }.sorted(),
                       ["41.ckpt", "42.ckpt", "43.ckpt"])
        XCTAssertEqual(settled.names, ["41.ckpt", "42.ckpt", "43.ckpt"])
    }
}

/// The `.ckpt` files present each time a writer finished.
final class ImagesSeen: @unchecked Sendable {
    let path: String
    private(set) var atEachFinish: [[String]] = []
    init(_ path: String) { self.path = path }
    func note() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        atEachFinish.append(names.filter { $0.hasSuffix(".ckpt") }.sorted())
    }
}

final class Settled: @unchecked Sendable {
    private let lock = NSLock()
    private var all: [String] = []
    func add(_ s: SettledStream) {
        lock.lock()
        defer { lock.unlock() }
        if case let .completed(name, _) = s.outcome { all.append(name) }
    }
    var names: [String] {
        lock.lock()
        defer { lock.unlock() }
        return all.sorted()
    }
}

final class RecordingWriter: StreamImageWriter {
    let inner: StreamImageWriter
    let seen: ImagesSeen
    init(_ inner: StreamImageWriter, seen: ImagesSeen) {
        self.inner = inner
        self.seen = seen
    }
    func beginRecord(_ head: RecordHead) throws { try inner.beginRecord(head) }
    func appendData(_ bytes: UnsafeRawBufferPointer) throws { try inner.appendData(bytes) }
    func endRecord() throws { try inner.endRecord() }
    func finish(summary: StreamSummary) throws {
        seen.note()
        try inner.finish(summary: summary)
    }
    var written: StreamSummary { inner.written }
}
