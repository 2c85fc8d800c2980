#if canImport(Glibc)
import Glibc
#endif

/// A Unix socket's name as getsockname(2) returns it: the bytes of a `struct sockaddr_un`
/// cut after the name, which bind(2) takes back as they are. The name is a path (relative
/// ones to the process's working directory) or, after a NUL, an abstract name, which no file
/// holds. Made only from bytes of family `AF_UNIX` with a name of at least one byte and no
/// more than `sun_path` holds (`init?(bytes:)`), so `path` and `isAbstract` always mean
/// something.
public struct UnixAddress: Equatable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Where the name starts: after `sun_family`.
    static let nameOffset = 2

    /// nil unless `bytes` is `AF_UNIX` and a name of 1 to 108 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count > Self.nameOffset, bytes.count <= MemoryLayout<sockaddr_un>.size,
              Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8) == AF_UNIX else { return nil }
        self.bytes = bytes
    }

    /// The name's bytes, without the family (and for an abstract name with its leading NUL).
    var name: ArraySlice<UInt8> { bytes[Self.nameOffset...] }

    /// True for an abstract name (a leading NUL): no file holds it.
    public var isAbstract: Bool { name.first == 0 }

    /// The path (up to its first NUL, as the kernel reads a path name); nil for an abstract name.
    public var path: String? {
        guard !isAbstract else { return nil }
        return String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// "/run/app.sock", or "@name" for an abstract name (as ss(8) prints it; NULs inside it
    /// as "@" too).
    public var description: String {
        if let path { return path }
        return "@" + String(decoding: name.dropFirst().map { $0 == 0 ? UInt8(ascii: "@") : $0 }, as: UTF8.self)
    }
}
