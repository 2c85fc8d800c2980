#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol
import CkptTransport
import SystemPackage

/// What a restart session's socket brings back, besides replies: in the order read.
public enum RestartAnswer: Equatable, Sendable {
    /// The restart-record request with this nlmsg_seq was accepted (validated; in a direct
    /// session its pages are queued for the session's writer, not yet written).
    case ack(requestSeq: UInt32)
    /// `CKPT_CMD_RESTART_WRITTEN`: every pages fragment of session seq <= `seq` is in the
    /// target; `bytes` page bytes written so far. Direct sessions only.
    case written(seq: UInt32, bytes: UInt64)
    /// `CKPT_CMD_RESTART_DONE`: the session's writer finished a commit, or failed.
    case done(RestartDone)
}

/// What the restart engine needs from the kernel: the four restart commands, with record
/// requests sent without waiting and their answers (acks and the session's events)
/// collected separately, so that the engine (`RestartReplayer`) can keep a window of them
/// outstanding. `GenlRestartLink` is the real one; tests use a fake.
public protocol RestartLink: AnyObject {
    /// `CKPT_CMD_RESTART_BEGIN { PID, [RESTART_FLAGS] }`: the session id.
    func begin(pid: UInt32, flags: UInt32) throws(TransportError) -> UInt32
    /// Sends one `CKPT_CMD_RESTART_RECORD` (with `NLM_F_ACK`) and returns its nlmsg_seq,
    /// without waiting for the answer.
    func sendRecord(rsid: UInt32, _ fragment: RecordFragment) throws(TransportError) -> UInt32
    /// Waits for the next answer of the session: an ack of a record request, or an event
    /// of this rsid (those of other sessions are dropped). A rejected request throws
    /// `.kernel` with the errno, the extack text and the request's seq.
    func nextAnswer() throws(TransportError) -> RestartAnswer
    /// `CKPT_CMD_RESTART_COMMIT`, waiting for its reply: the kernel accepted the commit.
    /// How it ended comes later, as `.done` from `nextAnswer`.
    func commit(rsid: UInt32, seq: UInt32, summary: StreamSummary) throws(TransportError) -> RestartCommitReply
    /// `CKPT_CMD_RESTART_ABORT`, best effort (closing the socket drops the session too).
    func abort(rsid: UInt32)
}

/// `RestartLink` over a `GenlClient` of the `ckpt` family.
///
/// Record requests go out with `GenlClient.send`; their answers are read with the client's
/// one ack reader (`GenlClient.receiveAnswers`). The window is the engine's
/// (`RestartReplayer.Session`), so that it is tested without a kernel. On generic netlink the kernel handles a request inside
/// `sendto` and queues its ack on our socket: the window bounds how many acks wait in
/// the receive buffer, so none is dropped however long the image. The session's events
/// (restart-written, restart-done) share that buffer; the engine's write window bounds
/// those of a direct session.
public final class GenlRestartLink: RestartLink {
    public let client: GenlClient
    /// Answers already received and not yet handed out (a datagram may carry several).
    private var answers: [Result<RestartAnswer, TransportError>] = []
    /// The session `begin` opened: events of other sessions are not ours.
    private var rsid: UInt32?
    /// `receive`'s acks of one datagram, kept so that a receive (one per record request)
    /// allocates nothing.
    private var read: [GenlClient.Answer] = []

    /// The largest message a replay sends: a fragment with 65,531 data bytes and its headers.
    static let largestMessage = 64 * 1024 + 4096

    /// Sizes the socket's buffers. Receive: room for `acksInFlight` acks and `eventsInFlight`
    /// restart-written events, ~4 KiB each with extack or skb overhead, since an ack the
    /// kernel cannot queue is dropped (and the socket reports ENOBUFS); SO_RCVBUFFORCE as
    /// root, else capped by rmem_max. Send: room for the largest fragment. Fails (instead of
    /// a replay failing later with EMSGSIZE) when a setter fails or the send buffer the
    /// kernel grants cannot hold the largest message.
    public init(client: GenlClient, acksInFlight: Int = 32,
                eventsInFlight: Int = RestartReplayer.defaultWriteWindow) throws(TransportError) {
        try client.socket.setReceiveBufferSize(max(256 << 10, (acksInFlight + eventsInFlight) * 4096))
        // libnl leaves 32 KiB of send buffer, and netlink refuses (EMSGSIZE) a message larger
        // than the send buffer less 32 bytes (netlink_sendmsg): a full fragment needs more.
        let granted = try client.socket.setSendBufferSize(256 << 10)
        guard granted >= Self.largestMessage + 32 else {
            throw .system(call: "setsockopt", errno: .messageTooLong, detail:
                "SO_SNDBUF is \(granted) bytes after asking for \(256 << 10): a \(Self.largestMessage)-byte fragment would fail with EMSGSIZE (raise net.core.wmem_max, or run as root)")
        }
        self.client = client
    }

    public func begin(pid: UInt32, flags: UInt32) throws(TransportError) -> UInt32 {
        answers.removeAll()
        let id = try client.restartBegin(pid: pid, flags: flags)
        rsid = id
        return id
    }

    public func sendRecord(rsid: UInt32, _ fragment: RecordFragment) throws(TransportError) -> UInt32 {
        let encoder = client.encoder
        // The data goes from the fragment's buffer straight into sendmsg's iovec.
        return try client.send({ h, b in encoder.restartRecordHead(rsid: rsid, fragment, header: h, into: b) },
                               trailing: fragment.data)
    }

    public func nextAnswer() throws(TransportError) -> RestartAnswer {
        while answers.isEmpty { try receive() }
        return try answers.removeFirst().get()
    }

    public func commit(rsid: UInt32, seq: UInt32, summary: StreamSummary) throws(TransportError) -> RestartCommitReply {
        try client.restartCommit(rsid: rsid, seq: seq, summary: summary) { (m: NetlinkMessage) throws(ProtocolError) in
            if let event = try self.event(m) { self.answers.append(.success(event)) }
        }
    }

    public func abort(rsid: UInt32) {
        try? client.restartAbort(rsid: rsid)
    }

    /// Reads one datagram into `answers`. The kernel unicasts each ack and event in an skb
    /// of its own, so a datagram holds one message and the queue keeps the socket's order.
    private func receive() throws(TransportError) {
        read.removeAll(keepingCapacity: true)
        try client.receiveAnswers(into: &read) { (m: NetlinkMessage) throws(ProtocolError) in
            if let event = try self.event(m) { self.answers.append(.success(event)) }
        }
        for a in read {
            if let e = a.rejection {
                answers.append(.failure(.kernel(errno: Errno(rawValue: e.errno), message: e.message,
                                                attributeOffset: e.attributeOffset, requestSeq: e.requestSeq)))
            } else {
                answers.append(.success(.ack(requestSeq: a.seq)))
            }
        }
    }

    /// The session's event `m` is, nil for other messages (replies, other sessions' events).
    private func event(_ m: NetlinkMessage) throws(ProtocolError) -> RestartAnswer? {
        switch Int(try MessageFraming.command(of: m)) {
        case CKPT_CMD_RESTART_WRITTEN:
            let w = try ReplyDecoder.restartWritten(m)
            return w.rsid == rsid ? .written(seq: w.seq, bytes: w.bytes) : nil
        case CKPT_CMD_RESTART_DONE:
            let d = try ReplyDecoder.restartDone(m)
            return d.rsid == rsid ? .done(d) : nil
        default:
            return nil
        }
    }
}
