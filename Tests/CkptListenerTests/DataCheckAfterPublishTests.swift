#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptImage
import CkptProtocol
import Foundation
import Logging
import Synchronization
import SystemPackage
import XCTest
@testable import CkptListener

/// The listener with `ckpt listen --data-check after-publish`: images written on the sender's
/// fragment checksums, published, then read back and verified (`PublishedImageCheck`).
final class DataCheckAfterPublishTests: XCTestCase {
    private let afterPublish = ImageWriters.through(.writev, dataCheck: .afterPublish)

    /// What `publishedImage` (the store's upload hook) was handed, in order.
    private final class Handed: Sendable {
        let names = Mutex<[String]>([])
    }

    private func harness(_ handed: Handed) throws -> ListenerHarness {
        try ListenerHarness(configure: {
            $0.exitAfter = 1
            $0.publishedImage = { name, _ in handed.names.withLock { $0.append(name) } }
        }, makeWriter: afterPublish)
    }

    /// The image is the stream's, whole, verifies, and is handed on once checked.
    func testImagesArePublishedCheckedAndHandedOn() throws {
        for fragment in [5000, Int(CKPT_DATA_MAX)] {
            let handed = Handed()
            let harness = try harness(handed)
            harness.start()
            let stream = EncodedStream(crid: 12, runs: 3, pagesPerRun: 9, fragment: fragment, dataChecksums: true)
            TestSender().send(stream.messages, to: harness.port)
            let outcome = try XCTUnwrap(harness.wait())
            XCTAssertEqual(outcome.stats.completed, 1, "\(outcome.stats.recentFailures)")
            XCTAssertEqual(outcome.stats.corrupt, 0)
            assertImage(harness.directory + "/12.ckpt", matches: stream)
            XCTAssertNoThrow(try verifyImage(path: harness.directory + "/12.ckpt"))
            XCTAssertEqual(handed.names.withLock { $0 }, ["12.ckpt"])
        }
    }

    /// A data byte changed in flight, after the sender checksummed it: the counts and the
    /// stream's checksum agree (they stand on the fragments' checksums), so the image is
    /// published; its check then finds the byte, sets the image aside as `.corrupt` with
    /// the reason, counts it, and does not hand it on.
    func testAByteChangedInFlightIsSetAsideAfterPublication() throws {
        let handed = Handed()
        let harness = try harness(handed)
        harness.start()
        var stream = EncodedStream(crid: 32, dataChecksums: true)
        try stream.flipDataByte()
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(outcome.stats.corrupt, 1)
        XCTAssertEqual(harness.files(), ["32.corrupt", "32.corrupt.reason"])
        let reason = try XCTUnwrap(harness.read("32.corrupt.reason"))
        XCTAssertTrue(reason.contains("differ from its sender's checksums") && reason.contains("record"), reason)
        XCTAssertEqual(handed.names.withLock { $0 }, [])
        XCTAssertThrowsError(try verifyImage(path: harness.directory + "/32.corrupt"))
    }

    /// At most `maxPending` images wait for the check thread; the next is checked by the
    /// submitting thread at once (backpressure on the publisher, not a growing queue).
    func testChecksBeyondTheBoundRunOnTheSubmittingThread() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let checked = Mutex<[String]>([])
        let check = PublishedImageCheck(directory: try ImageDirectory(path: dir), logger: logger,
                                        onChecked: { name, _ in checked.withLock { $0.append(name) } },
                                        onCorrupt: { _ in }, maxPending: 1)
        // Not started: the first waits in the queue, the next two are checked here.
        for n in 1...3 {
            check.worker.submit(.init(crid: UInt64(n), name: "\(n).ckpt", bytes: 8, check: try deferredCheck(dir + "/\(n).ckpt")))
        }
        XCTAssertEqual(checked.withLock { $0 }, ["2.ckpt", "3.ckpt"])
        check.start()
        check.stop()
        XCTAssertEqual(checked.withLock { $0 }, ["2.ckpt", "3.ckpt", "1.ckpt"])
    }

    /// A one-record image written on its sender's checksum, and its deferred check.
    private func deferredCheck(_ path: String) throws -> DeferredDataCheck {
        let fd = try FileDescriptor.open(FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: ImageHeader(crid: 1, pid: 2, captureStartNs: 3, host: "h"), path: path,
                                coalesceBytes: 0, dataChecksums: .sender)
        let data: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        try [UInt8]().withUnsafeBytes { try w.beginRecord(type: .regs, id: 1, parent: 0, meta: $0, dataLength: 8) }
        try data.withUnsafeBytes { try w.appendData($0, checksum: CRC32C.checksum(data)) }
        try w.endRecord()
        try w.finish(summary: w.streamSummary)
        return try XCTUnwrap(w.takeDeferredCheck())
    }

    /// Fragments without checksums (an older module) are checksummed as they arrive: the
    /// same byte changed fails the stream, and nothing is published, as inline.
    func testFragmentsWithoutChecksumsAreCheckedInline() throws {
        let handed = Handed()
        let harness = try harness(handed)
        harness.start()
        var stream = EncodedStream(crid: 33)
        try stream.flipDataByte()
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["summary-mismatch": 1])
        XCTAssertEqual(outcome.stats.corrupt, 0)
        XCTAssertEqual(harness.files(), ["33.failed", "33.failed.reason"])
        XCTAssertEqual(handed.names.withLock { $0 }, [])
    }
}
