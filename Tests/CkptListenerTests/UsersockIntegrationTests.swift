#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import CCkptUAPI
import CkptProtocol
import CkptTransport
import XCTest
@testable import CkptListener

/// The listener end to end over real NETLINK_USERSOCK sockets, in process.
final class UsersockIntegrationTests: XCTestCase {
    func testOneStreamBecomesAnImage() throws {
        let harness = try ListenerHarness { $0.exitAfter = 1 }
        harness.start()
        let stream = EncodedStream(crid: 11)
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.reason, .exitAfter)
        XCTAssertEqual(harness.files(), ["11.ckpt"])
        assertImage(harness.directory + "/11.ckpt", matches: stream)
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(outcome.stats.failed, 0)
        XCTAssertEqual(outcome.stats.messages, UInt64(stream.messages.count))
        XCTAssertGreaterThanOrEqual(outcome.stats.bytesWritten, stream.dataBytes)
        let stats = try XCTUnwrap(harness.read(".ckpt-listen.stats"))
        XCTAssertTrue(stats.contains("\"state\": \"stopped\""), stats)
        XCTAssertTrue(stats.contains("\"completed\": 1"), stats)
    }

    /// One data byte flipped in flight, counts intact: only the checksum can tell, and the
    /// listener computes it once, in the image writer. The image is kept as .failed, never
    /// published, and the reason names the end message and both checksums.
    func testFlippedDataByteFailsTheChecksumAndIsNeverPublished() throws {
        let harness = try ListenerHarness { $0.exitAfter = 1 }
        harness.start()
        var stream = EncodedStream(crid: 31)
        try stream.flipDataByte()
        TestSender().send(stream.messages, to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["summary-mismatch": 1])
        XCTAssertEqual(harness.files(), ["31.failed", "31.failed.reason"])
        let reason = try XCTUnwrap(harness.read("31.failed.reason"))
        XCTAssertTrue(reason.hasPrefix("crid 31 seq \(stream.messages.count - 1)"), reason)
        XCTAssertTrue(reason.contains("crc32c \(hex(stream.summary.checksum)); received the same counts but crc32c"), reason)
    }

    func testInterleavedConcurrentStreamsAllComplete() throws {
        let count = 64
        let harness = try ListenerHarness { $0.exitAfter = count }
        harness.start()
        let streams = (1...count).map { EncodedStream(crid: UInt64(100 + $0), runs: 2, pagesPerRun: 4, fragment: 5000) }
        TestSender().sendInterleaved(streams.map(\.messages), to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.completed, UInt64(count))
        XCTAssertEqual(outcome.stats.failed, 0, "\(outcome.stats.recentFailures)")
        XCTAssertEqual(harness.files(), streams.map { "\($0.crid).ckpt" }.sorted())
        for stream in streams { assertImage(harness.directory + "/\(stream.crid).ckpt", matches: stream) }
        XCTAssertEqual(outcome.stats.overruns, 0)
    }

    func testSlowWriterWithATinyPoolLosesNothingAndStalls() throws {
        // A writer thread behind the receive thread: the pool runs dry.
        let outcome = try twoStreamsThroughASlowWriter(writer: .thread)
        XCTAssertGreaterThan(outcome.stats.stalls, 0)
        XCTAssertGreaterThan(outcome.stats.stalledNs, 0)
        XCTAssertLessThanOrEqual(outcome.stats.poolPeakInUse, 2)
    }

    /// Inline, the receive thread writes what it holds before it needs another buffer: a
    /// slow disk and a tiny pool lose nothing, the pool never runs dry (the socket is the
    /// queue the sender waits on), and the time spent writing is counted.
    func testInlineWriterWithATinyPoolLosesNothingAndNeverStalls() throws {
        let outcome = try twoStreamsThroughASlowWriter(writer: .inline)
        XCTAssertEqual(outcome.stats.stalls, 0)
        XCTAssertEqual(outcome.stats.writer, "inline")
        // 4 x 32 pages of 8 KiB fragments per stream: 64 appends of 1 ms at least.
        XCTAssertGreaterThanOrEqual(outcome.stats.inlineWriteNs, 128 * 1_000_000)
    }

    /// Time the listener spends writing (inline) or stalled on its pool (writer thread) is
    /// not a stream's silence: a batch that takes longer to write than the stream timeout
    /// abandons nothing. (Counted from the receive clock alone, every stream in the batch
    /// would be abandoned at the tick after it.)
    func testWritingLongerThanTheStreamTimeoutAbandonsNothing() throws {
        for writer in ImageSink.Writer.allCases {
            let outcome = try twoStreamsThroughASlowWriter(
                writer: writer, delayMicroseconds: 60_000, runs: 2, pagesPerRun: 8, fragment: 4096
            ) {
                $0.poolBuffers = 16
                $0.resumeAt = 16
                $0.streamTimeoutNs = 300_000_000
            }
            XCTAssertEqual(outcome.stats.failuresByRule, [:], "\(writer)")
        }
    }

    /// Two interleaved streams through a writer that sleeps `delayMicroseconds` per
    /// fragment; by default a 2-buffer pool and a 4 KiB socket buffer (the sender blocks
    /// early). Both images complete and equal to what was sent, no message lost.
    private func twoStreamsThroughASlowWriter(
        writer: ImageSink.Writer, delayMicroseconds: UInt32 = 1000, runs: Int = 4, pagesPerRun: Int = 32,
        fragment: Int = 8192, file: StaticString = #filePath, line: UInt = #line,
        configure: (inout ListenerConfiguration) -> Void = {
            $0.poolBuffers = 2
            $0.resumeAt = 1
            $0.socketReceiveBuffer = 4096
        }
    ) throws -> Listener.Outcome {
        let harness = try ListenerHarness(configure: {
            $0.writer = writer
            $0.exitAfter = 2
            configure(&$0)
        }, makeWriter: { fd, info in
            SlowWriter(try ImageWriters.standard(fd, info), delayMicroseconds: delayMicroseconds)
        })
        harness.start()
        let a = EncodedStream(crid: 1, runs: runs, pagesPerRun: pagesPerRun, fragment: fragment)
        let b = EncodedStream(crid: 2, runs: runs, pagesPerRun: pagesPerRun, fragment: fragment)
        TestSender().sendInterleaved([a.messages, b.messages], to: harness.port)
        let outcome = try XCTUnwrap(harness.wait(seconds: 60), file: file, line: line)
        let context = "\(writer): \(outcome.stats.recentFailures)"
        XCTAssertEqual(outcome.stats.completed, 2, context, file: file, line: line)
        XCTAssertEqual(outcome.stats.failed, 0, context, file: file, line: line)
        XCTAssertEqual(outcome.stats.overruns, 0, "backpressure, never loss", file: file, line: line)
        XCTAssertEqual(outcome.stats.messages, UInt64(a.messages.count + b.messages.count), file: file, line: line)
        XCTAssertEqual(harness.files(), ["1.ckpt", "2.ckpt"], file: file, line: line)
        assertImage(harness.directory + "/1.ckpt", matches: a, file: file, line: line)
        assertImage(harness.directory + "/2.ckpt", matches: b, file: file, line: line)
        return outcome
    }

    func testAStreamWithAGapFailsWhileAnotherCompletes() throws {
        let harness = try ListenerHarness { $0.exitAfter = 2 }
        harness.start()
        var broken = EncodedStream(crid: 21)
        broken.messages.remove(at: 5)
        let fine = EncodedStream(crid: 22)
        TestSender().sendInterleaved([broken.messages, fine.messages], to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(harness.files(), ["21.failed", "21.failed.reason", "22.ckpt"])
        assertImage(harness.directory + "/22.ckpt", matches: fine)
        XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1])
        let reason = try XCTUnwrap(harness.read("21.failed.reason"))
        XCTAssertEqual(reason, "crid 21 seq 6: sequence: gap, expected seq 5, got 6 (messages were lost)\n")
        XCTAssertGreaterThan(harness.size("21.failed") ?? 0, 0, "captured bytes are kept")
    }

    func testAbortKeepsTheBytesWithTheSendersReason() throws {
        let harness = try ListenerHarness { $0.exitAfter = 1 }
        harness.start()
        let stream = EncodedStream(crid: 31)
        var messages = Array(stream.messages.prefix(8))
        messages.append(stream.abort(seq: 8, reason: CKPT_ABORT_REASON_TASK_EXITED.rawValue, message: "task 4242 exited"))
        TestSender().send(messages, to: harness.port)
        _ = try XCTUnwrap(harness.wait())
        XCTAssertEqual(harness.files(), ["31.failed", "31.failed.reason"])
        let reason = try XCTUnwrap(harness.read("31.failed.reason"))
        XCTAssertTrue(reason.hasPrefix("crid 31 seq 8"), reason)
        XCTAssertTrue(reason.contains("TASK_EXITED"), reason)
        XCTAssertTrue(reason.contains("task 4242 exited"), reason)
    }

    func testSilentStreamIsAbandoned() throws {
        let harness = try ListenerHarness {
            $0.exitAfter = 1
            $0.streamTimeoutNs = 300_000_000
        }
        harness.start()
        TestSender().send(Array(EncodedStream(crid: 41).messages.prefix(4)), to: harness.port)
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.stats.failuresByRule, ["abandoned": 1])
        XCTAssertTrue(harness.read("41.failed.reason")?.contains("abandoned: no message for") == true)
    }

    func testStopFailsStreamsInFlightAsInterruptedAndKeepsTheirBytes() throws {
        let harness = try ListenerHarness()
        harness.start()
        TestSender().send(Array(EncodedStream(crid: 51).messages.prefix(6)), to: harness.port)
        // Wait until the stream is in flight (its .partial exists), then stop.
        try waitFor { harness.files() == ["51.partial", "51.partial.reason"] }
        let outcome = try XCTUnwrap(harness.stop())
        XCTAssertEqual(outcome.reason, .requested)
        XCTAssertEqual(harness.files(), ["51.failed", "51.failed.reason"])
        XCTAssertTrue(harness.read("51.failed.reason")?.contains("interrupted") == true)
    }

    func testLeftoverPartialAtStartBecomesFailed() throws {
        let directory = try makeTemporaryDirectory()
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/61.partial", contents: Data(repeating: 7, count: 1000)), "test set-up: create the file")
        let harness = try ListenerHarness(directory: directory) { $0.idleTimeoutNs = 200_000_000 }
        harness.start()
        let outcome = try XCTUnwrap(harness.wait())
        XCTAssertEqual(outcome.reason, .idleTimeout)
        XCTAssertEqual(outcome.stats.leftoversFound, 1)
        XCTAssertEqual(harness.files(), ["61.failed", "61.failed.reason"])
        XCTAssertEqual(harness.size("61.failed"), 1000)
        let reason = try XCTUnwrap(harness.read("61.failed.reason"))
        XCTAssertTrue(reason.hasPrefix("listener crashed or was killed mid-capture\nscan: not readable as an image"), reason)
    }

    /// The listener died after an image's trailer, before the rename: the next listener finds
    /// a complete image as `.partial`, verifies it and publishes it instead of failing it. The
    /// same file with its last byte gone is not complete and is marked failed.
    func testACompleteLeftoverIsVerifiedAndPublished() throws {
        let directory = try makeTemporaryDirectory()
        let first = try ListenerHarness(directory: directory) { $0.exitAfter = 1 }
        first.start()
        let stream = EncodedStream(crid: 81)
        TestSender().send(stream.messages, to: first.port)
        _ = try XCTUnwrap(first.wait())
        XCTAssertEqual(rename(directory + "/81.ckpt", directory + "/81.partial"), 0)
        let image = try XCTUnwrap(FileManager.default.contents(atPath: directory + "/81.partial"))
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/82.partial", contents: image.dropLast()), "test set-up: create the file")

        let second = try ListenerHarness(directory: directory) { $0.idleTimeoutNs = 200_000_000 }
        second.start()
        let outcome = try XCTUnwrap(second.wait())
        XCTAssertEqual(outcome.stats.leftoversFound, 2)
        XCTAssertEqual(outcome.stats.leftoversPublished, 1)
        XCTAssertEqual(second.files().filter { !$0.hasPrefix(".") }, ["81.ckpt", "82.failed", "82.failed.reason"])
        assertImage(directory + "/81.ckpt", matches: stream)
        let reason = try XCTUnwrap(second.read("82.failed.reason"))
        XCTAssertTrue(reason.hasPrefix("listener crashed or was killed mid-capture"), reason)
    }

    func testAnExistingImageIsNeverOverwritten() throws {
        let directory = try makeTemporaryDirectory()
        XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/71.ckpt", contents: Data("old image".utf8)), "test set-up: create the file")
        let harness = try ListenerHarness(directory: directory) { $0.exitAfter = 1 }
        harness.start()
        let stream = EncodedStream(crid: 71)
        TestSender().send(stream.messages, to: harness.port)
        _ = try XCTUnwrap(harness.wait())
        XCTAssertEqual(harness.files(), ["71-1.ckpt", "71.ckpt"])
        assertImage(harness.directory + "/71-1.ckpt", matches: stream)
        XCTAssertEqual(harness.read("71.ckpt"), "old image")
    }
}

/// Delays each data write: a disk slower than the stream.
final class SlowWriter: ForwardingWriter {
    let delay: UInt32
    init(_ inner: StreamImageWriter, delayMicroseconds: UInt32) {
        delay = delayMicroseconds
        super.init(inner)
    }
    override func appendData(_ bytes: UnsafeRawBufferPointer, checksum: UInt32?) throws {
        usleep(delay)
        try inner.appendData(bytes, checksum: checksum)
    }
}

func waitFor(seconds: Double = 10, _ condition: () -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
    let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
    while !condition() {
        if monotonicNanoseconds() > deadline {
            XCTFail("condition not met within \(seconds) s", file: file, line: line)
            throw POSIXError(.ETIMEDOUT)
        }
        usleep(10_000)
    }
}

/// Fairness: a stream that stops mid-record holds no buffer, so it cannot starve the others.
final class FairnessTests: XCTestCase {
    func testAStalledStreamDoesNotStarveOthersInATinyPool() throws {
        let harness = try ListenerHarness {
            $0.poolBuffers = 2
            $0.resumeAt = 1
            $0.exitAfter = 9
            $0.streamTimeoutNs = 1_000_000_000
        }
        harness.start()
        let sender = TestSender()
        let stalled = EncodedStream(crid: 1, runs: 1, pagesPerRun: 64, fragment: 4096)
        sender.send(Array(stalled.messages.prefix(10)), to: harness.port)  // mid pages record, then silence
        let others = (2...9).map { EncodedStream(crid: UInt64($0), runs: 2, pagesPerRun: 32, fragment: 4096) }
        sender.sendInterleaved(others.map(\.messages), to: harness.port)
        let outcome = try XCTUnwrap(harness.wait(seconds: 30))
        XCTAssertEqual(outcome.stats.completed, 8)
        XCTAssertEqual(outcome.stats.failuresByRule, ["abandoned": 1])
        XCTAssertEqual(harness.files().filter { $0.hasSuffix(".ckpt") }.count, 8)
    }
}

/// Stopping while backpressure holds the sender: the listener still stops promptly.
final class StopUnderBackpressureTests: XCTestCase {
    func testStopWhileThePoolIsExhaustedSettlesAndReturns() throws {
        for writer in ImageSink.Writer.allCases { try stopUnderBackpressure(writer: writer) }
    }

    /// With a writer thread the pool is exhausted (the receive thread stalls on it); inline
    /// the receive thread is busy writing. Either way the socket is full and the sender
    /// blocked when the stop comes.
    private func stopUnderBackpressure(writer: ImageSink.Writer) throws {
        let harness = try ListenerHarness(configure: {
            $0.writer = writer
            $0.poolBuffers = 2
            $0.resumeAt = 1
            $0.socketReceiveBuffer = 4096
        }, makeWriter: { fd, info in
            SlowWriter(try ImageWriters.standard(fd, info), delayMicroseconds: 20_000)
        })
        harness.start()
        let stream = EncodedStream(crid: 81, runs: 8, pagesPerRun: 64, fragment: 4096)
        let port = harness.port
        // The sender blocks on the full socket; when the listener closes it, its send fails.
        // It is made on the sending thread: a NetlinkSocket has one owner.
        let sending = JoinableThread {
            let sender: NetlinkSocket
            do {
                sender = try NetlinkSocket(family: .usersock)
                try sender.bind()
            } catch {
                return XCTFail("sender socket: \(error)")
            }
            for message in stream.messages {
                let sent: Bool = message.withUnsafeBytes { raw in (try? sender.send(raw, toPort: port)) != nil }
                if !sent { return }
            }
        }
        try waitFor { harness.files() == ["81.partial", "81.partial.reason"] }
        usleep(300_000)  // well into backpressure: pool empty or the receive thread writing, socket full, sender blocked
        let started = monotonicNanoseconds()
        let outcome = try XCTUnwrap(harness.stop())
        XCTAssertLessThan(monotonicNanoseconds() - started, 5_000_000_000, "stops promptly under backpressure")
        XCTAssertEqual(outcome.reason, .requested)
        if writer == .thread { XCTAssertGreaterThan(outcome.stats.stalls, 0) }
        if writer == .inline { XCTAssertGreaterThan(outcome.stats.inlineWriteNs, 200_000_000) }
        XCTAssertEqual(outcome.stats.failuresByRule, ["interrupted": 1])
        XCTAssertEqual(harness.files(), ["81.failed", "81.failed.reason"])
        sending.join()
    }
}
