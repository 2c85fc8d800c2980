#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptImage
import CkptProtocol
import Synchronization
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
