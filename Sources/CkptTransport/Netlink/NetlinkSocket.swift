#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import SystemPackage

/// A netlink socket (NETLINK_USERSOCK or NETLINK_GENERIC) behind typed calls.
///
/// Receive contract: one call reads one datagram (possibly several netlink messages)
/// straight into the caller's buffer, no copy. `MSG_TRUNC` (the datagram did not fit) is
/// `.truncated` and `ENOBUFS` (the kernel dropped messages for this socket) is `.overrun`:
/// both mean data is gone; the socket stays usable. Buffers should be 64 KiB + 4 KiB to
/// hold the largest ckpt message.
///
/// Owns its descriptor (closed in `deinit` or `close()`) unless made with `borrowing:`.
/// Not Sendable: one owner uses it (a close racing a receive on another thread could hit
/// a reused descriptor number).
public final class NetlinkSocket {
    public enum Family: Sendable {
        /// NETLINK_USERSOCK (2): userspace-to-userspace, for synthetic streams.
        case usersock
        /// NETLINK_GENERIC (16): the kernel's generic netlink.
        case generic

        var rawValue: Int32 {
            switch self {
            case .usersock: NETLINK_USERSOCK
            case .generic: NETLINK_GENERIC
            }
        }
    }

    /// One received datagram.
    public struct Received: Equatable, Sendable {
        /// Bytes in the buffer.
        public var count: Int
        /// The sender's port id (0: the kernel).
        public var senderPort: UInt32
    }

    public let fileDescriptor: Int32
    private let owned: Bool
    private var closed = false

    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, family)`; not bound yet.
    public init(family: Family) throws(TransportError) {
        fileDescriptor = try Sys.netlinkSocket(protocol: family.rawValue)
        owned = true
    }

    /// Wraps a descriptor someone else owns (libnl's, in `GenlClient`); never closes it.
    public init(borrowing fd: Int32) {
        fileDescriptor = fd
        owned = false
    }

    deinit { close() }

    /// Closes an owned descriptor (once). Later calls on this socket trap.
    public func close() {
        guard owned, !closed else { return }
        closed = true
        Sys.close(fileDescriptor)
    }

    /// `bind`: port 0 lets the kernel pick (the usual), else the given port id.
    public func bind(portID: UInt32 = 0, groups: UInt32 = 0) throws(TransportError) {
        try Sys.bind(fileDescriptor, portID: portID, groups: groups)
    }

    /// `connect`s to `port` (0: the kernel) and discards what was queued before. From then
    /// on the kernel refuses, with ECONNREFUSED to the sender, every unicast to this socket
    /// from another port (af_netlink.c, `netlink_getsockbyportid`), so everything received
    /// comes from `port`. Needs no privilege; sends may still name any destination.
    public func acceptOnly(fromPort port: UInt32) throws(TransportError) {
        try Sys.connect(fileDescriptor, portID: port)
        // Queued between bind and connect, by anyone: nothing was asked for yet.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024 + 4096, alignment: 8)
        defer { scratch.deallocate() }
        while true {
            do {
                guard try receiveMessage(into: scratch, blocking: false) != nil else { return }
            } catch .truncated, .overrun {
                continue
            }
        }
    }

    /// The bound port id (`getsockname`).
    public func localPortID() throws(TransportError) -> UInt32 { try Sys.localPortID(fileDescriptor) }

    /// Sets the receive buffer: `SO_RCVBUFFORCE` (ignores rmem_max; needs CAP_NET_ADMIN),
    /// falling back to `SO_RCVBUF` (capped at rmem_max). Returns what the kernel granted
    /// (`SO_RCVBUF` as read back: the kernel doubles the request for bookkeeping).
    @discardableResult
    public func setReceiveBufferSize(_ bytes: Int) throws(TransportError) -> Int {
        let size = Int32(clamping: bytes)
        do {
            try Sys.setOption(fileDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, size, "SO_RCVBUFFORCE \(size)")
        } catch {
            try Sys.setOption(fileDescriptor, SOL_SOCKET, SO_RCVBUF, size, "SO_RCVBUF \(size)")
        }
        return Int(try Sys.getOption(fileDescriptor, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"))
    }

    /// Same for the send buffer (`SO_SNDBUFFORCE`, then `SO_SNDBUF`).
    @discardableResult
    public func setSendBufferSize(_ bytes: Int) throws(TransportError) -> Int {
        let size = Int32(clamping: bytes)
        do {
            try Sys.setOption(fileDescriptor, SOL_SOCKET, SO_SNDBUFFORCE, size, "SO_SNDBUFFORCE \(size)")
        } catch {
            try Sys.setOption(fileDescriptor, SOL_SOCKET, SO_SNDBUF, size, "SO_SNDBUF \(size)")
        }
        return Int(try Sys.getOption(fileDescriptor, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"))
    }

    /// `NETLINK_EXT_ACK`: the kernel appends extack TLVs (message, offset) to errors.
    public func setExtendedAck(_ on: Bool) throws(TransportError) {
        try Sys.setOption(fileDescriptor, SOL_NETLINK, NETLINK_EXT_ACK, on ? 1 : 0, "NETLINK_EXT_ACK")
    }

    /// `NETLINK_CAP_ACK`: errors echo only the request's header, not its payload.
    public func setCappedAck(_ on: Bool) throws(TransportError) {
        try Sys.setOption(fileDescriptor, SOL_NETLINK, NETLINK_CAP_ACK, on ? 1 : 0, "NETLINK_CAP_ACK")
    }

    /// Blocks until one datagram arrives; returns its length.
    /// Throws `.truncated` (did not fit), `.overrun` (ENOBUFS: loss), `.system`.
    /// Retries EINTR, so a signal does not end the wait: a loop that must stop on a flag
    /// uses `receive(into:timeoutMilliseconds:)`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        while true {
            if let r = try receiveMessage(into: buffer, blocking: true) { return r.count }
        }
    }

    /// One datagram with its sender; nil when `blocking` is false and nothing is queued.
    public func receiveMessage(into buffer: UnsafeMutableRawBufferPointer, blocking: Bool) throws(TransportError) -> Received? {
        guard let (length, sender) = try Sys.receiveMessage(
            fileDescriptor, into: buffer, flags: blocking ? 0 : Int32(MSG_DONTWAIT))
        else { return nil }
        if length > buffer.count { throw .truncated(capacity: buffer.count, needed: length) }
        return Received(count: length, senderPort: sender)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for a datagram, then receives it
    /// without blocking. nil on timeout or signal, so a loop can check its stop flag.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeoutMilliseconds: Int32) throws(TransportError) -> Received? {
        guard try waitReadable(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        return try receiveMessage(into: buffer, blocking: false)
    }

    /// `poll` for POLLIN: true when a datagram (or an error such as ENOBUFS) is pending.
    public func waitReadable(timeoutMilliseconds: Int32) throws(TransportError) -> Bool {
        try Sys.pollReadable(fileDescriptor, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Receives up to `batch.capacity` datagrams in one `recvmmsg`; returns how many
    /// (0 when nothing is queued). See `ReceiveBatch` for lengths and truncation.
    /// `slots`: use only the first this many slots (default: all of them).
    public func receive(_ batch: ReceiveBatch, slots: Int? = nil, blocking: Bool = false) throws(TransportError) -> Int {
        try batch.receive(from: fileDescriptor, slots: slots, flags: blocking ? Int32(MSG_WAITFORONE) : Int32(MSG_DONTWAIT))
    }

    /// Sends one datagram to `port` (0: the kernel), blocking while the receiver is full
    /// (a userspace receiver's full queue makes a blocking sender wait: no loss).
    public func send(_ bytes: UnsafeRawBufferPointer, toPort port: UInt32 = 0) throws(TransportError) {
        _ = try Sys.send(fileDescriptor, bytes, toPort: port, flags: 0)
    }

    /// Sends one datagram made of `head`, then `trailing` (not copied), then `padding` zero
    /// bytes (0...3): a message whose last attribute's value is the caller's buffer.
    public func send(_ head: UnsafeRawBufferPointer, trailing: UnsafeRawBufferPointer, padding: Int,
                     toPort port: UInt32 = 0) throws(TransportError) {
        try Sys.send(fileDescriptor, head, trailing, padding: padding, toPort: port)
    }

    /// Sends one datagram to the multicast `groups` (a bitmask of groups 1...32) of this
    /// netlink protocol. Multicast never waits: a full member queue drops the message and
    /// that member's next receive fails with ENOBUFS (`.overrun`).
    ///
    /// The kernel delivers to the groups, then also unicasts to port 0; on protocols
    /// without a kernel socket (NETLINK_USERSOCK) that second half fails with ECONNREFUSED
    /// after the broadcast went out, so ECONNREFUSED is not an error here.
    public func broadcast(_ bytes: UnsafeRawBufferPointer, groups: UInt32) throws(TransportError) {
        do {
            _ = try Sys.send(fileDescriptor, bytes, toPort: 0, groups: groups, flags: 0)
        } catch let error where error.errno == .connectionRefused {
            return
        }
    }

    /// Sends without blocking; false when the receiver's queue is full (EAGAIN).
    public func trySend(_ bytes: UnsafeRawBufferPointer, toPort port: UInt32 = 0) throws(TransportError) -> Bool {
        try Sys.send(fileDescriptor, bytes, toPort: port, flags: Int32(MSG_DONTWAIT))
    }
}
