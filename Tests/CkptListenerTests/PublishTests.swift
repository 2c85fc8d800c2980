#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
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
            directory: directory, pool: BufferPool(count: 2, size: 4096), logger: Logger(label: "test"), host: "h",
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
            sink.submit(.open(session: session, stream: StreamStart(crid: 40 + session, pid: 1, captureStartNs: 0)))
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

/// A published image written into the reserve hands its descriptor to the reserve's thread,
/// which frees the unfilled blocks there: the next image is published meanwhile, and the
/// next reserve is made only after the surplus is freed.
final class SurplusReleaseTests: XCTestCase {
    func testTheNextImageIsPublishedWhileASurplusIsBeingFreed() throws {
        let path = try makeTemporaryDirectory()
        let directory = try ImageDirectory(path: path)
        let settled = Settled()
        let freeing = DispatchSemaphore(value: 0), mayFinish = DispatchSemaphore(value: 0)
        let events = Recorded<Int32>()
        let reserve = SpaceReserve(
            policy: .auto, directory: directory, logger: Logger(label: "test"),
            makeReserve: { _, _, _ in events.add(-1); return .made },
            freeSurplus: { fd in
                freeing.signal()
                mayFinish.wait()  // 250 MiB of tmpfs took 100-200 ms under qemu TCG
                events.add(fd)
            })
        let publisher = ImagePublisher(
            directory: directory, logger: Logger(label: "test"), onSettled: { settled.add($0) },
            onFailed: { _, what in XCTFail(what) }, syncFile: { _ throws(Errno) in },
            onPublished: { reserve.request(imageBytes: max($0, 64 << 20)) }, releaseSurplus: { reserve.release($0) })
        reserve.start()
        publisher.start()
        func finished(_ crid: UInt64, reserved: Bool) throws -> ImagePublisher.Finished {
            let made = try directory.createPartial(crid: crid)
            return .init(session: crid, crid: crid, summary: StreamSummary(records: 0, bytes: 0, checksum: 0),
                         file: ImageFile(crid: crid, fd: made.fd, name: made.name, reserved: reserved))
        }
        let first = try finished(51, reserved: true)
        // Blocks past its end, as a reserve it was written into leaves them.
        XCTAssertEqual(ckpt_fallocate_keep_size(first.file.fd, 0, 1 << 20), 0, "fallocate: \(errno)")
        XCTAssertEqual(reserve.allocatedBytes(), 0)
        publisher.queue.submit(first)
        XCTAssertEqual(freeing.wait(timeout: .now() + 10), .success, "the reserved image's surplus handed over")
        XCTAssertGreaterThanOrEqual(reserve.allocatedBytes(), 1 << 20, "the surplus counts as reserved until freed")
        publisher.queue.submit(try finished(52, reserved: false))
        try waitFor { settled.names == ["51.ckpt", "52.ckpt"] }
        XCTAssertEqual(events.values, [], "52 published while 51's surplus was being freed, and no reserve made yet")
        mayFinish.signal()
        publisher.stop()
        // A reserve is asked for at each publication. When the reserve's thread (SCHED_IDLE:
        // late on a busy machine) first woke with 51's request already there, 52's comes
        // while the surplus is freed and a second reserve follows the first: this mock
        // makes no file, so the reserve it "made" does not satisfy the second request.
        try waitFor { events.values.count >= 2 }
        XCTAssertEqual(reserve.allocatedBytes(), 0)
        reserve.stop()
        XCTAssertEqual(Array(events.values.prefix(2)), [first.file.fd, -1], "the surplus freed, then the next reserve made")
        XCTAssertTrue(events.values.dropFirst(2).allSatisfy { $0 == -1 }, "\(events.values)")
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

/// The names of the images published, sorted.
final class Settled: Sendable {
    private let recorded = Recorded<String>()
    func add(_ s: SettledStream) {
        if case let .completed(name, _) = s.outcome { recorded.add(name) }
    }
    var names: [String] { recorded.values.sorted() }
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
