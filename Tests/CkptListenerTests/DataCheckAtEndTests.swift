#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import XCTest
@testable import CkptListener

/// The listener with `ckpt listen --data-check at-end` (`ImageWriters.through(_:dataCheck: .atEnd)`):
/// the same images, the same refusals, the same kept bytes as checking inline.
final class DataCheckAtEndTests: XCTestCase {
    private let atEnd = ImageWriters.through(.writev, dataCheck: .atEnd)

    /// Published images that hold the stream and pass every check of `ckpt verify` (each
    /// record's CRC, the file's, the index's), through both write paths.
    func testImagesAreWholeAndVerify() throws {
        for writer in [atEnd, ImageWriters.through(.splice, dataCheck: .atEnd)] {
            let harness = try ListenerHarness(configure: { $0.exitAfter = 1 }, makeWriter: writer)
            harness.start()
            let stream = EncodedStream(crid: 12, runs: 3, pagesPerRun: 9, fragment: 5000)
            TestSender().send(stream.messages, to: harness.port)
            let outcome = try XCTUnwrap(harness.wait())
            XCTAssertEqual(outcome.stats.completed, 1, "\(outcome.stats.recentFailures)")
            assertImage(harness.directory + "/12.ckpt", matches: stream)
            XCTAssertNoThrow(try verifyImage(path: harness.directory + "/12.ckpt"))
        }
    }

    /// The guarantee of checking inline, kept: a data byte flipped in flight fails the stream
    /// on its checksum, and nothing is published.
    func testFlippedDataByteIsNeverPublished() throws {
        let harness = try ListenerHarness(configure: { $0.exitAfter = 1 }, makeWriter: atEnd)
        harness.start()
        var stream = EncodedStream(crid: 32)
        try stream.flipDataByte()
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["summary-mismatch": 1])
        XCTAssertEqual(harness.files(), ["32.failed", "32.failed.reason"])
        let reason = try XCTUnwrap(harness.read("32.failed.reason"))
        XCTAssertTrue(reason.contains("crc32c \(hex(stream.summary.checksum)); received the same counts but crc32c"), reason)
    }

    /// A stream that breaks mid-way (a lost message): the kept .failed file's sound records
    /// are the same as with the inline check (their CRCs written when the stream failed).
    func testAFailedStreamKeepsTheSameSoundRecords() throws {
        var last: [UInt32?] = []
        for writer in [ImageWriters.standard, atEnd] {
            let harness = try ListenerHarness(configure: { $0.exitAfter = 1 }, makeWriter: writer)
            harness.start()
            var stream = EncodedStream(crid: 33, runs: 4, pagesPerRun: 4, fragment: 4096)
            stream.messages.remove(at: stream.messages.count * 2 / 3)
            TestSender().send(stream.messages, to: harness.port)
            let outcome = try XCTUnwrap(harness.wait())
            XCTAssertEqual(outcome.stats.failed, 1)
            let scan = try PartialImageScanner(path: harness.directory + "/33.failed").scan()
            last.append(scan.lastRecordID)
        }
        XCTAssertNotNil(last[0])
        XCTAssertEqual(last[1], last[0])
    }
}
