import Logging
import XCTest
@testable import CkptListener

/// ENOBUFS and truncation, through the whole listener with a scripted socket.
final class LossTests: XCTestCase {
    private func run(_ source: ScriptedSource, exitAfter: Int, bufferSize: Int = 64 * 1024 + 4096)
        throws -> (Listener.Outcome, ListenerHarnessFiles)
    {
        let directory = try makeTemporaryDirectory()
        var configuration = ListenerConfiguration(directory: directory)
        configuration.exitAfter = exitAfter
        configuration.bufferSize = bufferSize
        configuration.streamTimeoutNs = 500_000_000
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let listener = try Listener(configuration: configuration, source: source, logger: logger,
                                    makeWriter: ImageWriters.standard)
        return (listener.run(), ListenerHarnessFiles(directory: directory))
    }

    func testOverrunIsAttributedToTheStreamsInFlight() throws {
        var a = EncodedStream(crid: 1).messages
        let b = EncodedStream(crid: 2).messages
        a.remove(at: 4)  // what ENOBUFS cost stream 1
        var steps: [ScriptedSource.Step] = a.prefix(4).map { .datagram($0) }
        steps.append(.overrun)
        steps += b.map { .datagram($0) }  // stream 2 began after the loss
        steps += a.dropFirst(4).map { .datagram($0) }
        let (outcome, files) = try run(ScriptedSource(steps), exitAfter: 2)
        XCTAssertEqual(outcome.stats.overruns, 1)
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1])
        let reason = try XCTUnwrap(files.read("1.failed.reason"))
        XCTAssertTrue(reason.contains("ENOBUFS"), reason)
        XCTAssertEqual(files.names(), ["1.failed", "1.failed.reason", "2.ckpt"])
    }

    func testTruncatedDatagramFailsItsStreamAsAGap() throws {
        let stream = EncodedStream(crid: 3, runs: 1, pagesPerRun: 16, fragment: 30_000)
        let steps: [ScriptedSource.Step] = stream.messages.map { .datagram($0) }
        let (outcome, files) = try run(ScriptedSource(steps), exitAfter: 1, bufferSize: 16_384)
        XCTAssertGreaterThan(outcome.stats.malformedDatagrams, 0)
        XCTAssertEqual(outcome.stats.failuresByRule, ["sequence-gap": 1])
        XCTAssertEqual(files.names(), ["3.failed", "3.failed.reason"])
    }

    func testMalformedMessageFailsOnlyItsStream() throws {
        var a = EncodedStream(crid: 5).messages
        a[3][a[3].count - 1] ^= 0xff  // damage the last attribute of a record message
        a[3].removeLast(3)             // and break its framing
        let b = EncodedStream(crid: 6).messages
        var steps: [ScriptedSource.Step] = []
        for i in 0..<max(a.count, b.count) {
            if i < a.count { steps.append(.datagram(a[i])) }
            if i < b.count { steps.append(.datagram(b[i])) }
        }
        let (outcome, files) = try run(ScriptedSource(steps), exitAfter: 2)
        XCTAssertEqual(outcome.stats.completed, 1)
        XCTAssertEqual(outcome.stats.failed, 1)
        XCTAssertGreaterThan(outcome.stats.malformedDatagrams, 0)
        XCTAssertTrue(files.names().contains("6.ckpt"))
        XCTAssertTrue(files.names().contains("5.failed"))
    }
}

struct ListenerHarnessFiles {
    let directory: String
    func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
    func read(_ name: String) -> String? { try? String(contentsOfFile: directory + "/" + name, encoding: .utf8) }
}
