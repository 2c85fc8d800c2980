/// What one non-blocking receive produced.
public enum ReceiveOutcome: Equatable, Sendable {
    /// `count` bytes landed in the buffer. `truncated`: the datagram was longer than the
    /// buffer (MSG_TRUNC) and its tail is gone.
    case datagram(count: Int, truncated: Bool)
    /// Nothing queued (EAGAIN).
    case wouldBlock
    /// ENOBUFS: the socket overflowed and the kernel dropped messages (loss).
    case overrun
}

/// One datagram of a batch receive (`DatagramSource.receive(batch:into:)`): the same
/// fields as `ReceiveOutcome.datagram`.
public struct ReceivedDatagram: Equatable, Sendable {
    public var count: Int
    public var truncated: Bool

    public init(count: Int, truncated: Bool) {
        self.count = count
        self.truncated = truncated
    }
}

/// What one non-blocking batch receive produced.
public enum BatchOutcome: Equatable, Sendable {
    /// `n` >= 1 datagrams, the k-th in `buffers[k]`, described by `received[k]`.
    case datagrams(Int)
    /// Nothing queued (EAGAIN).
    case wouldBlock
    /// ENOBUFS before any datagram: the kernel dropped messages (loss).
    case overrun
}

/// A netlink socket the listener reads stream messages from: the `ckpt` genl family's sink
/// socket or a NETLINK_USERSOCK socket. Nothing above this knows which. Who may send is
/// the source's to enforce (the sink's socket is connected to the kernel, which refuses
/// every other sender), so datagrams come without their sender.
public protocol DatagramSource: AnyObject {
    /// For poll(2).
    var fileDescriptor: Int32 { get }
    /// The `nlmsg_type` stream messages carry: the family id, or `CKPT_USERSOCK_TYPE`.
    var messageType: UInt16 { get }
    /// For logs: `genl family ckpt (id 30), port 1234` / `usersock port 1234`.
    var description: String { get }
    /// Receives one datagram without blocking.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> ReceiveOutcome
    /// Receives up to `buffers.count` datagrams without blocking, in order, the k-th into
    /// `buffers[k]`, and describes them in `received` (which it may resize; callers keep
    /// its capacity, so nothing is allocated per call). The default receives one datagram
    /// with `receive(into:)`; a socket uses one `recvmmsg`.
    func receive(batch buffers: [UnsafeMutableRawBufferPointer], into received: inout [ReceivedDatagram]) throws -> BatchOutcome
    /// Called once when the listener stops (unregister the sink, close).
    func shutdown()
}

extension DatagramSource {
    public func receive(batch buffers: [UnsafeMutableRawBufferPointer], into received: inout [ReceivedDatagram]) throws -> BatchOutcome {
        guard let first = buffers.first else { return .wouldBlock }
        switch try receive(into: first) {
        case .wouldBlock: return .wouldBlock
        case .overrun: return .overrun
        case let .datagram(count, truncated):
            received.removeAll(keepingCapacity: true)
            received.append(ReceivedDatagram(count: count, truncated: truncated))
            return .datagrams(1)
        }
    }
}
