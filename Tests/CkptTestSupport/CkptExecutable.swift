#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the test support could not do: each case is a test failure (a thrown error), never a
/// skip. `swift test` builds the `ckpt` executable with the tests, so a missing one, or a
/// listener that does not start, is a broken build or a broken `ckpt listen`.
public enum TestSupportError: Error, CustomStringConvertible {
    /// No executable `ckpt` in any of `searched`.
    case executableNotFound(searched: [String])
    /// `ckpt listen --usersock` did not print `usersock port N` as its first line.
    case listenerDidNotStart(arguments: [String], firstLine: String, exitStatus: Int32?, log: String)

    public var description: String {
        switch self {
        case let .executableNotFound(searched):
            return "ckpt executable not found; looked in \(searched.joined(separator: ", "))"
        case let .listenerDidNotStart(arguments, firstLine, exitStatus, log):
            let status = exitStatus.map { "exited \($0)" } ?? "still running after the wait (killed)"
            return "ckpt \(arguments.joined(separator: " ")) did not start: first line \(firstLine.debugDescription), \(status); log: \(log)"
        }
    }
}

/// The built `ckpt` executable: the one lookup every test target uses. The test bundle sits
/// in the scratch path's debug folder, beside `ckpt`.
public func ckptExecutable() throws -> URL {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [bundle, bundle.deletingLastPathComponent(), bundle.deletingLastPathComponent().deletingLastPathComponent()]
    for candidate in candidates {
        let url = candidate.appendingPathComponent("ckpt")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw TestSupportError.executableNotFound(searched: candidates.map(\.path))
}

/// True when the `ckpt` kernel module is loaded on this host (its family is registered). The
/// host kernels ckpt is developed on cannot load it, so tests that need it are expected
/// skips here (listed in Tests/expected-skips.txt); the qemu suites run the real module.
public func kernelFamilyPresent() -> Bool {
    FileManager.default.fileExists(atPath: "/sys/module/ckpt")
}
