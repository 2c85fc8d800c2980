#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The real `ckpt listen --usersock` executable as a subprocess: its port (the first line of
/// its stdout), its log (stderr, to a file so it never blocks on a full pipe), its stats file.
/// The one way tests start a listener; one that does not start throws
/// `TestSupportError.listenerDidNotStart` (a failure, not a skip).
public final class ListenerProcess {
    public let directory: String
    public let process: Process
    public let port: UInt32
    public let logPath: String

    /// Starts `ckpt listen --usersock --dir DIRECTORY --status never ARGS` and waits (up to
    /// `startTimeout` seconds) for its `usersock port N` line.
    public init(directory: String, arguments: [String] = [], logName: String? = nil, startTimeout: Double = 20) throws {
        self.directory = directory
        logPath = NSTemporaryDirectory() + "/ckpt-listener-log-\(getpid())-\(logName ?? UUID().uuidString).txt"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let all = ["listen", "--usersock", "--dir", directory, "--status", "never"] + arguments
        process = Process()
        process.executableURL = try ckptExecutable()
        process.arguments = all
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        let (text, timedOut) = Self.firstLine(of: out.fileHandleForReading.fileDescriptor, timeout: startTimeout)
        guard text.hasPrefix("usersock port "),
              let port = UInt32(text.dropFirst("usersock port ".count).prefix { $0.isNumber }) else {
            // End of file: the listener is exiting, wait for its status. Silence: kill it.
            if timedOut { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            let log = Self.read(logPath)
            unlink(logPath)  // the error carries it; deinit, which removes it otherwise, does not run
            throw TestSupportError.listenerDidNotStart(
                arguments: all, firstLine: text, exitStatus: timedOut ? nil : process.terminationStatus, log: log)
        }
        self.port = port
    }

    /// Reads FD up to the first newline, end of file, or `timeout` seconds, whichever is first;
    /// `timedOut` tells the last case.
    private static func firstLine(of fd: Int32, timeout: Double) -> (text: String, timedOut: Bool) {
        var line = [UInt8]()
        let deadline = Date().addingTimeInterval(timeout)
        var byte: UInt8 = 0
        while !line.contains(UInt8(ascii: "\n")) {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (String(decoding: line, as: UTF8.self), true) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left * 1000, 1000)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            line.append(byte)
        }
        return (String(decoding: line, as: UTF8.self), false)
    }

    public static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    public var log: String { Self.read(logPath) }
    public var isRunning: Bool { process.isRunning }

    /// Waits for the listener to exit by itself; returns the exit status.
    @discardableResult
    public func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The stats file, parsed (nil until first written).
    public func stats() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: directory + "/.ckpt-listen.stats") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    public func counter(_ section: String, _ key: String) -> Int? {
        ((stats()?[section] as? [String: Any])?[key] as? NSNumber)?.intValue
    }

    public var failuresByRule: [String: Int] {
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
