#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol
import CkptTransport
import SystemPackage

/// What the restart engine needs from the kernel: the four restart commands, with record
/// requests sent without waiting and their acks collected separately, so that the engine
/// (`RestartReplayer`) can keep a window of them outstanding. `GenlRestartLink` is the real
/// one; tests use a fake.
public protocol RestartLink: AnyObject {
    /// `CKPT_CMD_RESTART_BEGIN { PID, [RESTART_FLAGS] }`: the session id.
    func begin(pid: UInt32, flags: UInt32) throws(TransportError) -> UInt32
    /// Sends one `CKPT_CMD_RESTART_RECORD` (with `NLM_F_ACK`) and returns its nlmsg_seq,
    /// without waiting for the answer.
    func sendRecord(rsid: UInt32, _ fragment: RecordFragment) throws(TransportError) -> UInt32
    /// Waits for the next answer to a record request and returns the nlmsg_seq it answers.
    /// A rejection throws `.kernel` with the errno, the extack text and that seq.
    func nextAck() throws(TransportError) -> UInt32
    /// `CKPT_CMD_RESTART_COMMIT`, waiting for its reply.
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
/// the receive buffer, so none is dropped however long the image.
public final class GenlRestartLink: RestartLink {
    public let client: GenlClient
    /// Answers already received and not yet handed out (a datagram may carry several).
    private var answers: [GenlClient.Answer] = []

    /// The largest message a replay sends: a fragment with 65,531 data bytes and its headers.
    static let largestMessage = 64 * 1024 + 4096

    /// Sizes the socket's buffers. Receive: room for `acksInFlight` acks, ~4 KiB each with
    /// extack, since an ack the kernel cannot queue is dropped (and the socket reports
    /// ENOBUFS); SO_RCVBUFFORCE as root, else capped by rmem_max. Send: room for the
    /// largest fragment. Fails (instead of a replay failing later with EMSGSIZE) when a
    /// setter fails or the send buffer the kernel grants cannot hold the largest message.
    public init(client: GenlClient, acksInFlight: Int = 32) throws(TransportError) {
        try client.socket.setReceiveBufferSize(max(256 << 10, acksInFlight * 4096))
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
        try client.restartBegin(pid: pid, flags: flags)
    }

    public func sendRecord(rsid: UInt32, _ fragment: RecordFragment) throws(TransportError) -> UInt32 {
        let encoder = client.encoder
        // The data goes from the fragment's buffer straight into sendmsg's iovec.
        return try client.send({ h, b in encoder.restartRecordHead(rsid: rsid, fragment, header: h, into: b) },
                               trailing: fragment.data)
    }

    public func nextAck() throws(TransportError) -> UInt32 {
        while answers.isEmpty { try client.receiveAnswers(into: &answers) }
        let answer = answers.removeFirst()
        if let e = answer.rejection {
            throw .kernel(errno: Errno(rawValue: e.errno), message: e.message, attributeOffset: e.attributeOffset,
                          requestSeq: e.requestSeq)
        }
        return answer.seq
    }

    public func commit(rsid: UInt32, seq: UInt32, summary: StreamSummary) throws(TransportError) -> RestartCommitReply {
        try client.restartCommit(rsid: rsid, seq: seq, summary: summary)
    }

    public func abort(rsid: UInt32) {
        try? client.restartAbort(rsid: rsid)
    }
}
