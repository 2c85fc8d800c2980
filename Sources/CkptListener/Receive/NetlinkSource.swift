import CCkptUAPI
import CkptTransport

/// Why the `ckpt` generic-netlink family cannot be our capture sink (exit 69).
public struct SinkUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// A CkptTransport netlink socket as the listener's `DatagramSource`: the `ckpt` genl sink
/// (the default) or a NETLINK_USERSOCK socket (`--usersock`). Both are read the same way:
/// non-blocking `recvmmsg` batches (or one `recvmsg`) straight into pool buffers.
public final class NetlinkSource: DatagramSource {
    private let socket: NetlinkSocket
    /// Keeps the libnl socket (and so the descriptor and the sink registration) alive.
    private let client: GenlClient?
    public let portID: UInt32
    public let messageType: UInt16
    public let description: String
    /// The `recvmmsg` vector, reused by every batch receive. It asks no senders: the sink's
    /// socket takes datagrams only from the kernel (`GenlClient` connects it), a usersock
    /// socket from anyone.
    private let batch = ReceiveBatch(capacity: NetlinkSource.maxBatch)
    /// The most datagrams one batch receive takes.
    public static let maxBatch = 64

    public var fileDescriptor: Int32 { socket.fileDescriptor }

    private init(socket: NetlinkSocket, client: GenlClient?, portID: UInt32, messageType: UInt16, description: String) {
        self.socket = socket
        self.client = client
        self.portID = portID
        self.messageType = messageType
        self.description = description
    }

    /// A NETLINK_USERSOCK socket bound to a kernel-chosen port; streams carry
    /// `nlmsg_type` `CKPT_USERSOCK_TYPE`.
    public static func usersock(receiveBuffer: Int) throws(TransportError) -> NetlinkSource {
        let socket = try NetlinkSocket(family: .usersock)
        try socket.bind()
        try socket.setReceiveBufferSize(receiveBuffer)
        let port = try socket.localPortID()
        return NetlinkSource(socket: socket, client: nil, portID: port, messageType: UInt16(CKPT_USERSOCK_TYPE),
                             description: "usersock port \(port)")
    }

    /// Resolves the `ckpt` family, registers this socket as the namespace's capture sink
    /// (`CKPT_CMD_SINK_REGISTER`); the stream then arrives on the same socket, which is
    /// connected to the kernel: another process's unicast to the sink's port is refused
    /// (ECONNREFUSED) before it is queued.
    /// Throws `SinkUnavailable` when the family is missing or refuses us (EPERM, EBUSY:
    /// another sink), `TransportError` for other socket failures.
    public static func genlSink(receiveBuffer: Int) throws -> NetlinkSource {
        let client: GenlClient
        do {
            client = try GenlClient()
            try client.registerSink()
        } catch let error {
            switch error {
            case .familyNotFound, .kernel: throw SinkUnavailable(description: error.description)
            default: throw error
            }
        }
        try client.socket.setReceiveBufferSize(receiveBuffer)
        return NetlinkSource(socket: client.socket, client: client, portID: client.portID, messageType: client.familyID,
                             description: "genl family \(client.familyName) (id \(client.familyID)), sink port \(client.portID)")
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> ReceiveOutcome {
        do {
            guard let received = try socket.receiveMessage(into: buffer, blocking: false) else { return .wouldBlock }
            return .datagram(count: received.count, truncated: false)
        } catch .overrun {
            return .overrun
        } catch let .truncated(capacity, _) {
            return .datagram(count: capacity, truncated: true)
        }
    }

    /// One `recvmmsg` into up to `maxBatch` of `buffers`. A datagram that did not fit its
    /// buffer is reported truncated with the buffer's size, as `receive(into:)` does.
    public func receive(batch buffers: [UnsafeMutableRawBufferPointer], into received: inout [ReceivedDatagram]) throws -> BatchOutcome {
        let slots = min(buffers.count, batch.capacity)
        for k in 0..<slots { batch.setBuffer(k, buffers[k]) }
        let n: Int
        do {
            n = try socket.receive(batch, slots: slots)
        } catch .overrun {
            return .overrun
        }
        if n == 0 { return .wouldBlock }
        received.removeAll(keepingCapacity: true)
        for k in 0..<n {
            received.append(ReceivedDatagram(count: batch.length(k), truncated: batch.isTruncated(k)))
        }
        return .datagrams(n)
    }

    /// Unregisters the sink (best effort, bounded wait: the ack may not fit a full queue;
    /// closing the socket unregisters it anyway), then closes.
    public func shutdown() {
        if let client {
            client.timeoutMilliseconds = 1000
            try? client.unregisterSink()
        } else {
            socket.close()
        }
    }
}
