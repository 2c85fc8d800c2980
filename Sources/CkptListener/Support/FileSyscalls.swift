#if canImport(Glibc)
import Glibc
#endif
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

/// `No space left on device (ENOSPC)`: the message and the symbolic name an operator greps for.
func describe(_ errno: Errno) -> String {
    let names: [Int32: String] = [
        ENOSPC: "ENOSPC", EACCES: "EACCES", EPERM: "EPERM", ENOENT: "ENOENT", EEXIST: "EEXIST",
        EIO: "EIO", EROFS: "EROFS", EDQUOT: "EDQUOT", ENOTDIR: "ENOTDIR", EBADF: "EBADF", EINVAL: "EINVAL",
        EFBIG: "EFBIG", EMFILE: "EMFILE", ENFILE: "ENFILE", ENOBUFS: "ENOBUFS",
    ]
    let message = String(cString: strerror(errno.rawValue))
    return names[errno.rawValue].map { "\(message) (\($0))" } ?? "\(message) (errno \(errno.rawValue))"
}

/// The few *at() calls the image directory needs, each retrying EINTR and returning a typed
/// error (the swift-system pattern). SystemPackage has no openat/renameat2/linkat.
enum FileSyscalls {
    /// `openat(2)`.
    static func openAt(_ dir: Int32, _ name: String, _ flags: Int32, _ mode: mode_t = 0) throws(Errno) -> Int32 {
        while true {
            let fd = openat(dir, name, flags, mode)
            if fd >= 0 { return fd }
            if Glibc.errno != EINTR { throw Errno(rawValue: Glibc.errno) }
        }
    }

    /// `fsync(2)`.
    static func sync(_ fd: Int32) throws(Errno) {
        while fsync(fd) != 0 {
            if Glibc.errno != EINTR { throw Errno(rawValue: Glibc.errno) }
        }
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE`: moves `old` to `new` in `dir` unless `new`
    /// exists (then `EEXIST`). Where the file system does not support the flag (`EINVAL`),
    /// `linkat` + `unlinkat` gives the same never-overwrite guarantee.
    static func renameNoReplace(_ dir: Int32, _ old: String, _ new: String) throws(Errno) {
        if let renameat2 = renameat2Function {
            if renameat2(dir, old, dir, new, 1 /* RENAME_NOREPLACE */) == 0 { return }
            let err = Glibc.errno
            if err != EINVAL && err != ENOSYS { throw Errno(rawValue: err) }
        }
        if linkat(dir, old, dir, new, 0) != 0 { throw Errno(rawValue: Glibc.errno) }
        if unlinkat(dir, old, 0) != 0 { throw Errno(rawValue: Glibc.errno) }
    }

    /// Glibc declares `renameat2` only under `_GNU_SOURCE`, which Swift's Glibc module does
    /// not set, and `syscall(2)` is variadic (not callable from Swift); so it is looked up
    /// once by name (glibc >= 2.28 exports it).
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameat2Function: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// Writes all of `bytes` at the current offset (`write(2)` until done).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw Errno(rawValue: Glibc.errno)
            }
            done += n
        }
    }

    /// Writes all of `text` (UTF-8).
    static func writeAll(_ fd: Int32, _ text: String) throws(Errno) {
        let bytes = Array(text.utf8)
        let result: Result<Void, Errno> = bytes.withUnsafeBytes { raw in
            Result { () throws(Errno) in try writeAll(fd, raw) }
        }
        try result.get()
    }
}
