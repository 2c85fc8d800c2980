#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CkptTestSupport
import XCTest

/// The built `ckpt` executable, as an operator or a harness runs it.
final class ExecutableTests: XCTestCase {
    func testListenUsersockExitAfterOneWritesTheImage() throws {
        let directory = try makeTemporaryDirectory()
        let listener = try ListenerProcess(directory: directory, arguments: ["--exit-after", "1"])
        let stream = EncodedStream(crid: 900, runs: 3, pagesPerRun: 64)
        TestSender().send(stream.messages, to: listener.port)
        let status = listener.waitForExit()
        let log = listener.log
        XCTAssertEqual(status, 0, log)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files, [".ckpt-listen.stats", "900.ckpt"])
        assertImage(directory + "/900.ckpt", matches: stream)
        XCTAssertTrue(log.contains("crid=900"), log)
        XCTAssertTrue(log.contains("image complete"), log)
        // Where the time after the stream's end went (docs/listener.md, "Logs").
        XCTAssertNotNil(log.range(of: #"finish_ms=[0-9]+\.[0-9] publish_ms=[0-9]+\.[0-9] .*image complete"#,
                                  options: .regularExpression), log)
        let stats = try String(contentsOfFile: directory + "/.ckpt-listen.stats", encoding: .utf8)
        XCTAssertTrue(stats.contains("\"completed\": 1"), stats)
    }

    /// `--data-check at-end`: the image is the same, and its `image complete` line says how
    /// many data bytes were read back after the stream's end (`checked_at_end`); inline, none.
    func testDataCheckAtEndLogsWhatWasReadAtTheEnd() throws {
        for (check, logged) in [("at-end", true), ("inline", false)] {
            let directory = try makeTemporaryDirectory()
            let listener = try ListenerProcess(directory: directory, arguments: ["--exit-after", "1", "--data-check", check])
            let stream = EncodedStream(crid: 902, runs: 3, pagesPerRun: 64)
            TestSender().send(stream.messages, to: listener.port)
            XCTAssertEqual(listener.waitForExit(), 0, listener.log)
            assertImage(directory + "/902.ckpt", matches: stream)
            XCTAssertEqual(listener.log.contains("checked_at_end="), logged, "\(check): \(listener.log)")
        }
    }

    /// `ckpt listen --data-check after-publish --strict`: a good stream's image is published
    /// and then logged as checked (exit 0); a stream whose data byte changed after the
    /// sender's checksum is published, then set aside as `.corrupt`, counted in the stats
    /// file, and the listener exits 1.
    func testDataCheckAfterPublishSetsACorruptImageAsideAndExitsOne() throws {
        for corrupt in [false, true] {
            let directory = try makeTemporaryDirectory()
            let listener = try ListenerProcess(directory: directory,
                                               arguments: ["--exit-after", "1", "--data-check", "after-publish", "--strict"])
            var stream = EncodedStream(crid: 903, runs: 3, pagesPerRun: 64, dataChecksums: true)
            if corrupt { try stream.flipDataByte() }
            TestSender().send(stream.messages, to: listener.port)
            XCTAssertEqual(listener.waitForExit(), corrupt ? 1 : 0, listener.log)
            let log = listener.log
            XCTAssertTrue(log.contains("when=after-publish why=--data-check"), log)
            XCTAssertTrue(log.contains("data_check=after publication"), log)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
            let stats = try String(contentsOfFile: directory + "/.ckpt-listen.stats", encoding: .utf8)
            if corrupt {
                XCTAssertEqual(files, [".ckpt-listen.stats", "903.corrupt", "903.corrupt.reason"])
                XCTAssertTrue(log.contains("image corrupt"), log)
                XCTAssertTrue(stats.contains("\"corrupt\": 1"), stats)
            } else {
                XCTAssertEqual(files, [".ckpt-listen.stats", "903.ckpt"])
                XCTAssertTrue(log.contains("image checked"), log)
                assertImage(directory + "/903.ckpt", matches: stream)
                XCTAssertTrue(stats.contains("\"corrupt\": 0"), stats)
            }
        }
    }

    /// libcurl is loaded at the first store use only (docs/object-store.md): a listener
    /// without --store never maps it, nor its dependency tree (docs/benchmarks.md "RSS").
    func testListenerWithoutStoreDoesNotMapLibcurl() throws {
        let listener = try ListenerProcess(directory: try makeTemporaryDirectory())
        // Read to the end: String(contentsOfFile:) stops after one page of a /proc file.
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(listener.process.processIdentifier)/maps"))
        let maps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        XCTAssertEqual(listener.stop(), 0, listener.log)
        XCTAssertTrue(maps.contains("libnl-genl-3"), "not the listener's maps:\n\(maps)")
        XCTAssertFalse(maps.contains("libcurl"), maps)
    }

    func testKillDashNineMidStreamThenRestartReportsTheLeftover() throws {
        let directory = try makeTemporaryDirectory()
        let first = try ListenerProcess(directory: directory)
        TestSender().send(Array(EncodedStream(crid: 901).messages.prefix(5)), to: first.port)
        try waitFor { FileManager.default.fileExists(atPath: directory + "/901.partial") }
        first.kill9()

        let second = try ListenerProcess(directory: directory, arguments: ["--idle-timeout", "0.3"])
        let status = second.waitForExit()
        let log = second.log
        XCTAssertEqual(status, 0, log)
        XCTAssertTrue(log.contains("leftover"), log)
        XCTAssertTrue(log.contains("crid=901"), log)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files, [".ckpt-listen.stats", "901.failed", "901.failed.reason"])
        // What was written before the kill (anything from an empty file to 4 records,
        // depending on how far the writer got) is scanned and described.
        let reason = try String(contentsOfFile: directory + "/901.failed.reason", encoding: .utf8)
        XCTAssertTrue(reason.hasPrefix("listener crashed or was killed mid-capture\nscan: "), reason)
    }

    func testSigtermSettlesInFlightStreamsAndExitsZero() throws {
        let directory = try makeTemporaryDirectory()
        let listener = try ListenerProcess(directory: directory)
        TestSender().send(Array(EncodedStream(crid: 902).messages.prefix(5)), to: listener.port)
        try waitFor { FileManager.default.fileExists(atPath: directory + "/902.partial") }
        let status = listener.stop()
        XCTAssertEqual(listener.process.terminationReason, .exit)
        XCTAssertEqual(status, 0, listener.log)
        XCTAssertTrue(try String(contentsOfFile: directory + "/902.failed.reason", encoding: .utf8).contains("interrupted"))
    }

    func testStrictExitsOneWhenAStreamFailed() throws {
        let directory = try makeTemporaryDirectory()
        let listener = try ListenerProcess(directory: directory, arguments: ["--exit-after", "1", "--strict"])
        var stream = EncodedStream(crid: 903)
        stream.messages.remove(at: 3)
        TestSender().send(stream.messages, to: listener.port)
        XCTAssertEqual(listener.waitForExit(), 1, listener.log)
    }

    /// The harness itself: a listener that does not start is a thrown error carrying its exit
    /// status and log (a test failure), never a skip.
    func testAListenerThatDoesNotStartIsAnErrorWithItsLog() throws {
        let directory = try makeTemporaryDirectory()
        XCTAssertThrowsError(try ListenerProcess(directory: directory, arguments: ["--pool-buffers", "0"])) { error in
            guard case let TestSupportError.listenerDidNotStart(_, firstLine, status, log) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(firstLine, "")
            XCTAssertEqual(status, 64)
            XCTAssertTrue(log.contains("pool-buffers"), log)
        }
    }

    /// Each is refused before anything starts, with exit 64 and the flag named: among them
    /// values that used to trap (inf seconds in UInt64 nanoseconds, a 1 TiB pool allocation).
    func testBadFlagsAreUsageErrors() throws {
        let directory = try makeTemporaryDirectory()
        let cases: [([String], String)] = [
            (["--pool-buffers", "0"], "--pool-buffers"),
            (["--pool-buffers", "65536", "--buffer-size", "\(16 << 20)"], "--pool-buffers x --buffer-size"),
            (["--stream-timeout", "inf"], "--stream-timeout"),
            (["--stream-timeout", "1e12"], "--stream-timeout"),
            (["--stream-timeout", "nan"], "--stream-timeout"),
            (["--stream-timeout", "0"], "--stream-timeout"),
            (["--idle-timeout", "inf"], "--idle-timeout"),
            (["--idle-timeout", "-1"], "--idle-timeout"),
        ]
        for (flags, named) in cases {
            let process = Process()
            process.executableURL = try ckptExecutable()
            process.arguments = ["listen", "--usersock", "--dir", directory, "--status", "never"] + flags
            let err = Pipe()
            process.standardError = err
            process.standardOutput = Pipe()
            try process.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .exit, "\(flags)")
            XCTAssertEqual(process.terminationStatus, 64, "\(flags): \(text)")
            XCTAssertTrue(text.contains(named), "\(flags): \(text)")
        }
    }

    func testWithoutTheKernelFamilyTheGenlListenerExits69() throws {
        // With the module loaded `ckpt listen` would register and run: asked first, not
        // guessed from its output after the fact (that would wait forever).
        if kernelFamilyPresent() { throw XCTSkip("the ckpt module is loaded on this host") }
        let process = Process()
        process.executableURL = try ckptExecutable()
        process.arguments = ["listen", "--dir", try makeTemporaryDirectory(), "--status", "never"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 69, log)
        XCTAssertTrue(log.contains("ckpt"), log)
    }
}
