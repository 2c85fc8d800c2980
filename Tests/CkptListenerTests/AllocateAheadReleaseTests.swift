#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import Foundation
import XCTest
@testable import CkptListener

/// What an image writer allocated ahead of its writes (`ckpt listen` on a file system that
/// is not in memory) is freed once the image is settled: published or kept as `.failed`,
/// a file holds its own bytes' blocks only.
final class AllocateAheadReleaseTests: XCTestCase {
    private let mib: UInt64 = 1 << 20
    private let allocating = ImageWriters.through(.writev, allocateAhead: 16 << 20)

    /// A writer that allocates ahead but does not say so: the sink then has no reason to
    /// free anything, which shows the blocks are there to be freed.
    final class Unsaid: ForwardingWriter {
        override var allocatedAhead: Bool { false }
    }

    func testAPublishedImageKeepsOnlyItsBytes() throws {
        let stream = EncodedStream(crid: 81, runs: 3, pagesPerRun: 16)  // ~200 KiB
        XCTAssertLessThan(try publishedAllocation(stream, allocating), mib / 2, "the blocks allocated ahead freed")
        let allocating = self.allocating
        let unsaid = try publishedAllocation(stream) { fd, info in Unsaid(try allocating(fd, info)) }
        XCTAssertGreaterThanOrEqual(unsaid, mib, "the writer allocated its first MiB ahead")
    }

    func testAFailedStreamKeepsOnlyItsBytes() throws {
        let harness = try ListenerHarness(configure: { $0.exitAfter = 1 }, makeWriter: allocating)
        harness.start()
        var broken = EncodedStream(crid: 82, runs: 3, pagesPerRun: 16)
        broken.messages.remove(at: 9)
        TestSender().send(broken.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1])
        XCTAssertGreaterThan(harness.size("82.failed") ?? 0, 0)
        XCTAssertLessThan(allocation(harness.directory + "/82.failed"), mib / 2)
    }

    /// The release frees the blocks past the end and leaves the bytes and the modification
    /// time as they were (`ftruncate` alone sets the time).
    func testTheReleaseKeepsTheBytesAndTheModificationTime() throws {
        let path = try makeTemporaryDirectory() + "/image"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let bytes = [UInt8](repeating: 0x5A, count: 10_000)
        XCTAssertEqual(write(fd, bytes, bytes.count), bytes.count)
        XCTAssertEqual(ckpt_fallocate_keep_size(fd, 0, Int64(4 * mib)), 0)
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_000_000), timespec(tv_sec: 1_000_000_000, tv_nsec: 123_000_000)]
        XCTAssertEqual(futimens(fd, &times), 0)
        XCTAssertGreaterThanOrEqual(allocation(path), 4 * mib)
        ImageDirectory.releaseSurplus(fd)
        XCTAssertLessThan(allocation(path), mib / 2)
        var st = stat()
        XCTAssertEqual(fstat(fd, &st), 0)
        XCTAssertEqual(st.st_size, 10_000)
        XCTAssertEqual(st.st_mtim.tv_sec, 1_000_000_000)
        XCTAssertEqual(st.st_mtim.tv_nsec, 123_000_000)
        XCTAssertEqual(Array(try XCTUnwrap(FileManager.default.contents(atPath: path))), bytes)
    }

    /// The blocks the image of `stream` holds once the listener that wrote it has stopped.
    private func publishedAllocation(_ stream: EncodedStream, _ writer: @escaping StreamImageWriterFactory) throws -> UInt64 {
        let harness = try ListenerHarness(configure: { $0.exitAfter = 1 }, makeWriter: writer)
        harness.start()
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 1, "\(outcome.stats.recentFailures)")
        assertImage(harness.directory + "/\(stream.crid).ckpt", matches: stream)
        return allocation(harness.directory + "/\(stream.crid).ckpt")
    }

    private func allocation(_ path: String) -> UInt64 {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0, path)
        return UInt64(st.st_blocks) * 512
    }
}
