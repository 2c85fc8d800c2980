#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address as getsockname(2) returns it: the bytes of a
/// `struct sockaddr_in` (16) or `struct sockaddr_in6` (28), port and address in network
/// order, which bind(2) and connect(2) take back as they are. Made only from bytes whose
/// length and family agree (`init?(bytes:)`), so `family` and `port` always mean something.
public struct SocketAddress: Equatable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// nil unless `bytes` is a whole `sockaddr_in` with `AF_INET` or a whole `sockaddr_in6`
    /// with `AF_INET6`.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        let family = Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
        switch (family, bytes.count) {
        case (AF_INET, MemoryLayout<sockaddr_in>.size), (AF_INET6, MemoryLayout<sockaddr_in6>.size): break
        default: return nil
        }
        self.bytes = bytes
    }

    /// `AF_INET` or `AF_INET6` (`sa_family`, host order).
    public var family: Int32 { Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8) }
    /// The port (`sin_port`/`sin6_port`, network order in the bytes), host order.
    public var port: UInt16 { UInt16(bytes[2]) << 8 | UInt16(bytes[3]) }

    /// "127.0.0.1:8080", "[::1]:8080" (with "%N" for an IPv6 scope id).
    public var description: String {
        // sockaddr_in: sin_addr at 4; sockaddr_in6: sin6_addr at 8, sin6_scope_id at 24.
        let v6 = family == AF_INET6
        let address = Array(bytes[(v6 ? 8 : 4)..<(v6 ? 24 : 8)])
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(family, address, &text, socklen_t(text.count))
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard v6 else { return "\(host):\(port)" }
        let scope = (24..<28).reduce(UInt32(0)) { $0 | UInt32(bytes[$1]) << UInt32(8 * ($1 - 24)) }
        return "[\(host)\(scope == 0 ? "" : "%\(scope)")]:\(port)"
    }
}
