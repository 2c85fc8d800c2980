import CCkptUAPI

/// One netlink message inside a received datagram: its header fields and its payload,
/// a slice of the datagram (no copy; valid while the datagram's buffer is).
///
/// ```
///  offset
///  v
///  | nlmsg_len u32 | nlmsg_type u16 | nlmsg_flags u16 | nlmsg_seq u32 | nlmsg_pid u32 | payload ... |
///  |<----------------------------- nlmsg_len ----------------------------------------------------->|
/// ```
public struct NetlinkMessage {
    /// Byte offset of the `nlmsghdr` in the datagram.
    public var offset: Int
    public var type: UInt16
    public var flags: UInt16
    public var seq: UInt32
    public var portID: UInt32
    /// `nlmsg_len - NLMSG_HDRLEN` bytes after the header.
    public var payload: UnsafeRawBufferPointer

    /// Byte offset of the payload in the datagram.
    public var payloadOffset: Int { offset + NetlinkLayout.messageHeaderSize }
}

/// Walks the `nlmsghdr`s of one datagram, strictly:
///
/// - a header needs 16 bytes; fewer left (other than nothing) is `.truncatedMessageHeader`;
/// - `nlmsg_len` must be at least 16 and fit in what is left: else `.badMessageLength`;
/// - the next message starts at `NLMSG_ALIGN(nlmsg_len)`; the last one's padding may be
///   missing (the datagram may end at `nlmsg_len`).
///
/// O(1) per message, no allocation. Types and flags are the caller's to judge.
public struct NetlinkMessageReader {
    public let datagram: UnsafeRawBufferPointer
    public private(set) var cursor = 0

    public init(_ datagram: UnsafeRawBufferPointer) {
        self.datagram = datagram
    }

    /// The next message, or nil at the end of the datagram.
    public mutating func next() throws(ProtocolError) -> NetlinkMessage? {
        let remaining = datagram.count - cursor
        if remaining == 0 { return nil }
        let headerSize = NetlinkLayout.messageHeaderSize
        guard remaining >= headerSize else {
            throw ProtocolError(
                .truncatedMessageHeader, field: "nlmsghdr", offset: cursor,
                value: UInt64(remaining), limit: UInt64(headerSize))
        }
        let length = Int(datagram.u32(at: cursor))
        guard length >= headerSize, length <= remaining else {
            throw ProtocolError(
                .badMessageLength, field: "nlmsghdr.nlmsg_len", offset: cursor,
                value: UInt64(length), limit: UInt64(length < headerSize ? headerSize : remaining))
        }
        let start = cursor
        let message = NetlinkMessage(
            offset: start,
            type: datagram.u16(at: start + 4),
            flags: datagram.u16(at: start + 6),
            seq: datagram.u32(at: start + 8),
            portID: datagram.u32(at: start + 12),
            payload: UnsafeRawBufferPointer(rebasing: datagram[(start + headerSize)..<(start + length)]))
        cursor = min(start + NetlinkLayout.alignMessage(length), datagram.count)
        return message
    }
}

/// The fixed header of a generic netlink message, read from a `NetlinkMessage`'s payload.
public struct GenlHeader: Equatable, Sendable {
    public var command: UInt8
    public var version: UInt8
    public var reserved: UInt16

    /// Reads the `genlmsghdr` at the start of `message.payload`; `.truncatedGenlHeader` if short.
    public init(of message: NetlinkMessage) throws(ProtocolError) {
        guard message.payload.count >= NetlinkLayout.genlHeaderSize else {
            throw ProtocolError(
                .truncatedGenlHeader, field: "genlmsghdr", offset: message.payloadOffset,
                value: UInt64(message.payload.count), limit: UInt64(NetlinkLayout.genlHeaderSize))
        }
        command = message.payload.u8(at: 0)
        version = message.payload.u8(at: 1)
        reserved = message.payload.u16(at: 2)
    }
}
