#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import SystemPackage
import XCTest
@testable import CkptListener

/// Disk full and a vanished directory fail only the streams they hit; the listener serves on.
final class DiskFailureTests: XCTestCase {
    private var mountPoint: String?

    override func tearDown() {
        if let mountPoint {
            _ = umount2(mountPoint, 0)
            rmdir(mountPoint)
        }
    }

    func testDiskFullFailsTheStreamWithENOSPCAndTheListenerKeepsServing() throws {
        let directory = try makeTemporaryDirectory()
        guard mount("tmpfs", directory, "tmpfs", 0, "size=1m,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (errno \(errno)); needs root")
        }
        mountPoint = directory
        let harness = try ListenerHarness(directory: directory) { $0.exitAfter = 3 }
        harness.start()
        let sender = TestSender()
        sender.send(EncodedStream(crid: 1, runs: 1, pagesPerRun: 16).messages, to: harness.port)  // 64 KiB: fits
        try waitFor { harness.files().contains("1.ckpt") }
        sender.send(EncodedStream(crid: 2, runs: 8, pagesPerRun: 64).messages, to: harness.port)  // 2 MiB: does not
        try waitFor { harness.files().contains("2.failed") }
        // The disk is full, yet the reason is there (written into the stream's reserved room).
        let reason = try XCTUnwrap(harness.read("2.failed.reason"))
        XCTAssertTrue(reason.hasPrefix("crid 2 "), reason)
        XCTAssertTrue(reason.contains("ENOSPC"), reason)
        // Space freed by the operator: the listener is still there and the next stream lands.
        unlink(directory + "/2.failed")
        unlink(directory + "/2.failed.reason")
        sender.send(EncodedStream(crid: 3, runs: 1, pagesPerRun: 16).messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, 2)
        XCTAssertEqual(outcome.stats.failuresByRule, ["io": 1])
        XCTAssertTrue(outcome.stats.recentFailures.first?.contains("ENOSPC") == true, "\(outcome.stats.recentFailures)")
        XCTAssertTrue(outcome.stats.recentFailures.first?.hasPrefix("crid 2 ") == true, "\(outcome.stats.recentFailures)")
        XCTAssertEqual(harness.files(), ["1.ckpt", "3.ckpt"])
    }

    func testEveryStreamFailedByAFullDiskGetsItsReasonFile() throws {
        let directory = try makeTemporaryDirectory()
        guard mount("tmpfs", directory, "tmpfs", 0, "size=1m,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (errno \(errno)); needs root")
        }
        mountPoint = directory
        let harness = try ListenerHarness(directory: directory) { $0.exitAfter = 4 }
        harness.start()
        // Four concurrent streams of 512 KiB into 1 MiB: at least two run out of space at
        // about the same time.
        let streams = (1...4).map { EncodedStream(crid: UInt64(10 + $0), runs: 2, pagesPerRun: 64, fragment: 16_000) }
        TestSender().sendInterleaved(streams.map(\.messages), to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertGreaterThanOrEqual(outcome.stats.failed, 2, "\(harness.files())")
        for stream in streams {
            let name = "\(stream.crid)"
            if harness.files().contains(name + ".ckpt") {
                assertImage(directory + "/" + name + ".ckpt", matches: stream)
                continue
            }
            let reason = try XCTUnwrap(harness.read(name + ".failed.reason"), "\(harness.files())")
            XCTAssertTrue(reason.hasPrefix("crid \(name) ") && reason.contains("ENOSPC"), reason)
        }
        XCTAssertFalse(harness.files().contains { $0.hasSuffix(".partial.reason") }, "\(harness.files())")
    }

    func testVanishedDirectoryFailsNewStreamsWithoutStoppingTheListener() throws {
        let harness = try ListenerHarness { $0.exitAfter = 1 }
        harness.start()
        try FileManager.default.removeItem(atPath: harness.directory)
        TestSender().send(EncodedStream(crid: 5).messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["io": 1])
        XCTAssertTrue(outcome.stats.recentFailures.first?.contains("ENOENT") == true, "\(outcome.stats.recentFailures)")
    }

    func testPermissionDeniedFailsTheStream() throws {
        let harness = try ListenerHarness(makeWriter: { _, _ in throw Errno.permissionDenied })
        harness.start()
        TestSender().send(EncodedStream(crid: 6).messages, to: harness.port)
        try waitFor { harness.files().contains("6.failed.reason") }
        let outcome = try XCTUnwrap(harness.stop())
        XCTAssertEqual(outcome.stats.failuresByRule, ["io": 1])
        XCTAssertTrue(harness.read("6.failed.reason")?.contains("EACCES") == true, harness.read("6.failed.reason") ?? "")
    }

    func testAFailureWhilePublishingKeepsTheBytesAsFailed() throws {
        let harness = try ListenerHarness(configure: { $0.exitAfter = 2 }, makeWriter: { fd, info in
            FailingFinishWriter(try ImageWriters.standard(fd, info), failFinish: info.crid == 1)
        })
        harness.start()
        let good = EncodedStream(crid: 2)
        TestSender().sendInterleaved([EncodedStream(crid: 1).messages, good.messages], to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["io": 1])
        XCTAssertEqual(harness.files(), ["1.failed", "1.failed.reason", "2.ckpt"])
        XCTAssertTrue(harness.read("1.failed.reason")?.contains("EIO") == true, harness.read("1.failed.reason") ?? "")
        assertImage(harness.directory + "/2.ckpt", matches: good)
    }
}

/// Fails `finish` (the index and trailer write) with EIO when told to.
final class FailingFinishWriter: ForwardingWriter {
    let failFinish: Bool
    init(_ inner: StreamImageWriter, failFinish: Bool) {
        self.failFinish = failFinish
        super.init(inner)
    }
    override func finish(summary: StreamSummary) throws {
        if failFinish { throw Errno.ioError }
        try inner.finish(summary: summary)
    }
}
