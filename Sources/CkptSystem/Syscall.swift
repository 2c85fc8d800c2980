#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// ckpt's one system-call layer (swift-system's pattern): one small wrapper per C call, each
/// retrying `EINTR` where that is right, turning -1 into a typed `Errno`, and naming its C
/// function. CkptImage, CkptTransport and CkptListener go through it (or through
/// SystemPackage's `FileDescriptor`, which follows the same pattern) and read no `errno`
/// themselves.
///
/// The errno policy, the same everywhere (swift-nio's): `EFAULT` means this process passed a
/// bad pointer, a bug: `failure` traps. `EBADF` from `close` of a descriptor we own means it
/// was closed twice, a bug: `close` traps. Every other errno, `EBADF` from any other call
/// included (a descriptor a caller handed us), is an error the caller reports with context.
public enum Syscall {
    /// The current `errno` as an `Errno`, under the policy (traps on `EFAULT`). `call` names
    /// the C function, for the trap's message.
    public static func failure(_ call: String, _ value: Int32 = Glibc.errno) -> Errno {
        precondition(value != EFAULT, "\(call): EFAULT, a bad pointer was passed (a bug)")
        return Errno(rawValue: value)
    }

    /// Runs `body` (a C call returning -1 and setting `errno` on failure) until it does not
    /// fail with `EINTR`; returns its result, or throws the policy's `Errno`.
    @inline(__always)
    public static func retrying<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(Errno) -> T {
        while true {
            let r = body()
            if r != -1 { return r }
            let e = Glibc.errno
            if e != EINTR { throw failure(call, e) }
        }
    }

    /// `openat(2)`.
    public static func openAt(_ dir: Int32, _ name: String, _ flags: Int32, _ mode: mode_t = 0) throws(Errno) -> Int32 {
        try retrying("openat") { openat(dir, name, flags, mode) }
    }

    /// `fsync(2)`.
    public static func sync(_ fd: Int32) throws(Errno) {
        _ = try retrying("fsync") { fsync(fd) }
    }

    /// `dup(2)`, with `F_DUPFD_CLOEXEC` so the copy is not inherited either.
    public static func duplicate(_ fd: Int32) throws(Errno) -> Int32 {
        try retrying("fcntl(F_DUPFD_CLOEXEC)") { fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    /// `ftruncate(2)`.
    public static func truncate(_ fd: Int32, _ length: Int) throws(Errno) {
        _ = try retrying("ftruncate") { ftruncate(fd, off_t(length)) }
    }

    /// `renameat(2)` within one directory (replaces `new`).
    public static func rename(_ dir: Int32, _ old: String, _ new: String) throws(Errno) {
        _ = try retrying("renameat") { renameat(dir, old, dir, new) }
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE`: moves `old` to `new` in `dir` unless `new`
    /// exists (then `EEXIST`). Where the file system does not support the flag (`EINVAL`),
    /// `linkat` + `unlinkat` gives the same never-overwrite guarantee.
    public static func renameNoReplace(_ dir: Int32, _ old: String, _ new: String) throws(Errno) {
        if let renameat2 = renameat2Function {
            if renameat2(dir, old, dir, new, 1 /* RENAME_NOREPLACE */) == 0 { return }
            let err = Glibc.errno
            if err != EINVAL && err != ENOSYS { throw failure("renameat2", err) }
        }
        _ = try retrying("linkat") { linkat(dir, old, dir, new, 0) }
        _ = try retrying("unlinkat") { unlinkat(dir, old, 0) }
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
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try retrying("write") { write(fd, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    /// Writes all of `text` (UTF-8).
    public static func writeAll(_ fd: Int32, _ text: String) throws(Errno) {
        let bytes = Array(text.utf8)
        let result: Result<Void, Errno> = bytes.withUnsafeBytes { raw in
            Result { () throws(Errno) in try writeAll(fd, raw) }
        }
        try result.get()
    }

    /// `uname(2)`'s release (`uname -r`) of the running kernel. uname cannot fail with a
    /// valid buffer (EFAULT only), so there is nothing to throw.
    public static func kernelRelease() -> String {
        var u = utsname()
        precondition(Glibc.uname(&u) == 0, "uname: \(Glibc.errno)")
        return withUnsafeBytes(of: u.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// `close(2)` of a descriptor this process owns. `EINTR` is not retried (Linux closes the
    /// descriptor anyway); `EBADF` traps (closed twice); `EIO` and the like are returned for
    /// callers that care (most do not: the data was fsynced before).
    @discardableResult
    public static func close(_ fd: Int32) -> Errno? {
        if Glibc.close(fd) == 0 { return nil }
        let e = Glibc.errno
        precondition(e != EBADF, "close(\(fd)): EBADF, a descriptor closed twice (a bug)")
        return e == EINTR ? nil : failure("close", e)
    }
}

/// `No space left on device (ENOSPC)`: the message and the symbolic name an operator greps for.
public func describe(_ errno: Errno) -> String {
    let names: [Int32: String] = [
        ENOSPC: "ENOSPC", EACCES: "EACCES", EPERM: "EPERM", ENOENT: "ENOENT", EEXIST: "EEXIST",
        EIO: "EIO", EROFS: "EROFS", EDQUOT: "EDQUOT", ENOTDIR: "ENOTDIR", EBADF: "EBADF", EINVAL: "EINVAL",
        EFBIG: "EFBIG", EMFILE: "EMFILE", ENFILE: "ENFILE", ENOBUFS: "ENOBUFS",
    ]
    let message = String(cString: strerror(errno.rawValue))
    return names[errno.rawValue].map { "\(message) (\($0))" } ?? "\(message) (errno \(errno.rawValue))"
}
