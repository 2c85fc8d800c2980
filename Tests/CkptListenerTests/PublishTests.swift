#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Foundation
import Logging
import CkptSystem
import SystemPackage
import XCTest
@testable import CkptListener

/// Publishing (fsync, rename, directory fsync) runs on its own thread: the writer goes on
/// finishing other images while an fsync waits for the disk.
final class PublishTests: XCTestCase {
    func testTheWriterFinishesOtherImagesWhileAnFsyncIsBlocked() throws {
        for writer in ImageSink.Writer.allCases { try finishesOtherImagesWhileAnFsyncIsBlocked(writer: writer) }
    }

    private func finishesOtherImagesWhileAnFsyncIsBlocked(writer: ImageSink.Writer) throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        let seen = ImagesSeen(path)
        let settled = Settled()
        let gate = DispatchSemaphore(value: 0)
        let sink = ImageSink(
            directory: directory, pool: BufferPool(count: 2, size: 4096), logger: Logger(label: "test"),
            makeWriter: { fd, info in RecordingWriter(try ImageWriters.standard(fd, info), seen: seen) },
            onSettled: { settled.add($0) }, onWriterFailure: { _ in }, writer: writer,
            syncFile: { fd throws(Errno) in
                gate.wait()  // the disk is slow today
                gate.signal()
                try Syscall.sync(fd)
            })
        let empty = StreamSummary(records: 0, bytes: 0, checksum: 0)
        sink.start()
        for session in UInt64(1)...3 {
            sink.submit(.open(session: session, info: StreamImageInfo(crid: 40 + session, pid: 1, captureStartNs: 0, host: "h")))
            sink.submit(.complete(session: session, crid: 40 + session, summary: empty, seq: 1))
            sink.flush()
        }
        // All three trailers are written although the first fsync has not returned.
        try waitFor { seen.finishes == 3 }  // inline: done before the last flush returned
        XCTAssertEqual(settled.names, [])
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: path).contains { $0.hasSuffix(".ckpt") })
        gate.signal()
        sink.stop()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".ckpt") }.sorted(),
                       ["41.ckpt", "42.ckpt", "43.ckpt"])
        XCTAssertEqual(settled.names, ["41.ckpt", "42.ckpt", "43.ckpt"])
    }
}

/// Counts the writers' `finish` calls (any thread).
final class ImagesSeen: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var count = 0
    init(_ path: String) { self.path = path }
    func note() {
        lock.lock()
        count += 1
        lock.unlock()
    }
    var finishes: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
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

final class RecordingWriter: ForwardingWriter {
    let seen: ImagesSeen
    init(_ inner: StreamImageWriter, seen: ImagesSeen) {
        self.seen = seen
        super.init(inner)
    }
    override func finish(summary: StreamSummary) throws {
        try inner.finish(summary: summary)
        seen.note()
    }
}
