#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import SystemPackage

/// A file operation of the listener that failed: what, on which file, with which errno.
/// Its description is what lands in `<crid>.failed.reason` and in the logs, e.g.
/// `write 7.partial: No space left on device (ENOSPC)`.
public struct ListenerFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Errno

    public init(_ operation: String, _ path: String, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// From a raw errno value (for callers that do not import SystemPackage).
    public init(_ operation: String, _ path: String, errno: Int32) {
        self.init(operation, path, Errno(rawValue: errno))
    }

    public var description: String { "\(operation) \(path): \(describe(errno))" }
}
