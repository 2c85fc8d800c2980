/// What one non-blocking receive produced.
public enum ReceiveOutcome: Equatable, Sendable {
    /// `count` bytes landed in the buffer. `truncated`: the datagram was longer than the
    /// buffer (MSG_TRUNC) and its tail is gone. `senderPort`: the sender's netlink port id
    /// (0 for the kernel).
    case datagram(count: Int, truncated: Bool, senderPort: UInt32)
    /// Nothing queued (EAGAIN).
    case wouldBlock
    /// ENOBUFS: the socket overflowed and the kernel dropped messages (loss).
    case overrun
}

/// A netlink socket the listener reads stream messages from: the `ckpt` genl family's sink
/// socket or a NETLINK_USERSOCK socket. Nothing above this knows which.
public protocol DatagramSource: AnyObject {
    /// For poll(2).
    var fileDescriptor: Int32 { get }
    /// The `nlmsg_type` stream messages carry: the family id, or `CKPT_USERSOCK_TYPE`.
    var messageType: UInt16 { get }
    /// True when only the kernel (port 0) may send stream messages (genl: another process
    /// could otherwise unicast forged streams to the sink's port).
    var kernelOnly: Bool { get }
    /// For logs: `genl family ckpt (id 30), port 1234` / `usersock port 1234`.
    var description: String { get }
    /// Receives one datagram without blocking.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> ReceiveOutcome
    /// Called once when the listener stops (unregister the sink, close).
    func shutdown()
}
