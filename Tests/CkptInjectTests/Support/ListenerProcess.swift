#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// The real `ckpt listen --usersock` executable as a subprocess: its port (the first line of
/// its stdout), its log (stderr, to a file so it never blocks on a full pipe), its stats file.
final class ListenerProcess {
    let directory: String
    let process: Process
    let port: UInt32
    let logPath: String

    /// `ckpt` sits beside the test bundle in the build folder.
    static func executable() throws -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("ckpt")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("ckpt executable not found beside \(CommandLine.arguments[0])")
    }

    /// Starts `ckpt listen --usersock --dir DIRECTORY --status never ARGS` and waits for its port.
    init(directory: String, arguments: [String] = [], logName: String? = nil) throws {
        self.directory = directory
        logPath = NSTemporaryDirectory() + "/ckpt-inject-log-\(getpid())-\(logName ?? UUID().uuidString).txt"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = try Self.executable()
        process.arguments = ["listen", "--usersock", "--dir", directory, "--status", "never"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
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
            process.waitUntilExit()
            throw HarnessError("listener did not start: \(text) \(Self.read(logPath))")
        }
        self.port = port
    }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    var log: String { Self.read(logPath) }
    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The stats file, parsed (nil until first written).
    func stats() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: directory + "/.ckpt-listen.stats") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    func counter(_ section: String, _ key: String) -> Int? {
        ((stats()?[section] as? [String: Any])?[key] as? NSNumber)?.intValue
    }

    var failuresByRule: [String: Int] {
        ((stats()?["failures_by_rule"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        unlink(logPath)
    }
}

func makeTemporaryDirectory(_ tag: String = "inject") throws -> String {
    let path = NSTemporaryDirectory() + "/ckpt-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Polls `condition` every 20 ms until it holds; fails (throws) after `timeout` seconds.
func waitFor(_ what: @autoclosure () -> String = "condition", timeout: Double = 20,
             _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    if try condition() { return }
    XCTFail("timed out after \(timeout) s waiting for \(what())")
    throw POSIXError(.ETIMEDOUT)
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. No failure.
func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = what }
}
