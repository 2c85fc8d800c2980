#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// The built `ckpt` executable, as an operator or a harness runs it.
final class ExecutableTests: XCTestCase {
    /// `ckpt` sits beside the test bundle in the build folder.
    private func executable() throws -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("ckpt")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("ckpt executable not found beside \(CommandLine.arguments[0])")
    }

    /// Starts `ckpt listen --usersock ARGS`, returns the process, its port and stderr pipe.
    private func startListener(_ arguments: [String]) throws -> (Process, UInt32, Pipe) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["listen", "--usersock"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The first line of stdout is `usersock port N`.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("usersock port "),
              let port = UInt32(text.dropFirst("usersock port ".count).prefix { $0.isNumber }) else {
            process.terminate()
            XCTFail("first line of stdout: \(text)")
            throw POSIXError(.EPROTO)
        }
        return (process, port, err)
    }

    func testListenUsersockExitAfterOneWritesTheImage() throws {
        let directory = try makeTemporaryDirectory()
        let (process, port, err) = try startListener(["--dir", directory, "--exit-after", "1", "--status", "never"])
        let stream = EncodedStream(crid: 900, runs: 3, pagesPerRun: 64)
        TestSender().send(stream.messages, to: port)
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, log)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(files, [".ckpt-listen.stats", "900.ckpt"])
        assertImage(directory + "/900.ckpt", matches: stream)
        XCTAssertTrue(log.contains("crid=900"), log)
        XCTAssertTrue(log.contains("image complete"), log)
        let stats = try String(contentsOfFile: directory + "/.ckpt-listen.stats", encoding: .utf8)
        XCTAssertTrue(stats.contains("\"completed\": 1"), stats)
    }

    func testKillDashNineMidStreamThenRestartReportsTheLeftover() throws {
        let directory = try makeTemporaryDirectory()
        let (first, port, _) = try startListener(["--dir", directory, "--status", "never"])
        TestSender().send(Array(EncodedStream(crid: 901).messages.prefix(5)), to: port)
        try waitFor { FileManager.default.fileExists(atPath: directory + "/901.partial") }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()

        let (second, _, err) = try startListener(["--dir", directory, "--idle-timeout", "0.3", "--status", "never"])
        second.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(second.terminationStatus, 0, log)
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
        let (process, port, err) = try startListener(["--dir", directory, "--status", "never"])
        TestSender().send(Array(EncodedStream(crid: 902).messages.prefix(5)), to: port)
        try waitFor { FileManager.default.fileExists(atPath: directory + "/902.partial") }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0, log)
        XCTAssertTrue(try String(contentsOfFile: directory + "/902.failed.reason", encoding: .utf8).contains("interrupted"))
    }

    func testStrictExitsOneWhenAStreamFailed() throws {
        let directory = try makeTemporaryDirectory()
        let (process, port, _) = try startListener(["--dir", directory, "--exit-after", "1", "--strict", "--status", "never"])
        var stream = EncodedStream(crid: 903)
        stream.messages.remove(at: 3)
        TestSender().send(stream.messages, to: port)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1)
    }

    func testBadFlagsAreUsageErrors() throws {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["listen", "--usersock", "--pool-buffers", "0"]
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 64)
    }

    func testWithoutTheKernelFamilyTheGenlListenerExits69() throws {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["listen", "--dir", try makeTemporaryDirectory(), "--status", "never"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if process.terminationStatus == 0 || log.contains("listening") {
            throw XCTSkip("the ckpt family is registered on this host")
        }
        XCTAssertEqual(process.terminationStatus, 69, log)
        XCTAssertTrue(log.contains("ckpt"), log)
    }
}
