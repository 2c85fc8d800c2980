import CkptProtocol

/// Keeps up to `window` acknowledged requests in flight (restart-record uploads): sends
/// without waiting until `window` acks are outstanding, then waits for the oldest.
/// Acks are matched by nlmsg_seq; the first error answer stops the upload with the
/// kernel's errno and extack (later requests of a failed session fail too; their acks
/// are not waited for).
///
/// ```
///  send 1 2 3 4 (window 4) | wait ack 1 | send 5 | wait ack 2 | ... | finish: wait 4 5 6 7
/// ```
/// On a genl socket the kernel handles each request inside `sendto`, so the window
/// bounds how many acks queue up in the receive buffer, not kernel work in flight.
public final class AckWindow {
    public let client: GenlClient
    public let window: Int
    private var pending: [UInt32] = []

    public init(client: GenlClient, window: Int = 32) {
        precondition(window >= 1)
        self.client = client
        self.window = window
        pending.reserveCapacity(window)
    }

    /// Requests sent and not yet acknowledged.
    public var outstanding: Int { pending.count }

    /// Sends one request (it must ask for an ack: the encoders' default flags do).
    public func send(_ build: (MessageHeader, MessageBuffer) -> Void) throws(TransportError) {
        if pending.count >= window { try client.awaitAcks(&pending, until: window - 1) }
        pending.append(try client.send(build))
    }

    /// `CKPT_CMD_RESTART_RECORD` of `fragment` in session `rsid`.
    public func sendRestartRecord(rsid: UInt32, _ fragment: RecordFragment) throws(TransportError) {
        let encoder = client.encoder
        try send { h, b in encoder.restartRecord(rsid: rsid, fragment, header: h, into: b) }
    }

    /// Waits for every outstanding ack.
    public func finish() throws(TransportError) {
        try client.awaitAcks(&pending, until: 0)
    }
}
