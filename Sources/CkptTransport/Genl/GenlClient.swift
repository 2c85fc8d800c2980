#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CNetlink
import CkptProtocol
import SystemPackage

/// The control path to the `ckpt` generic netlink family: family resolution through
/// libnl-genl-3 (`genl_ctrl_resolve`), then requests built by `MessageEncoder`, sent and
/// answered on the same socket with raw `sendto`/`recvmsg` and decoded by CkptProtocol
/// (replies with `ReplyDecoder`, errors with `NetlinkErrorMessage`, extack included).
///
/// ```
///  GenlClient ── nl_sock (libnl: connect, resolve) ── fd ── NetlinkSocket (raw send/receive)
///     request:  [nlmsghdr seq=N flags=REQUEST|ACK][genlmsghdr][attrs]  ──> kernel
///     answer:   [reply seq=N]? then [NLMSG_ERROR seq=N error=0 | -errno + extack TLVs]
/// ```
///
/// The socket that sends `CKPT_CMD_SINK_REGISTER` becomes the sink: after `registerSink()`
/// the listener reads the stream from `socket` (raw `recvmsg` into its pool). Requests on
/// a sink socket skip stream messages while they wait (nlmsg_seq does not match), so do
/// not mix requests and stream reading on one socket while a stream may be flowing.
///
/// Never send `CKPT_CMD_CHECKPOINT` from the sink's own socket: its checkpoint-done answer
/// would arrive among stream messages. Use one client as sink and another as requester.
///
/// Sockets are connected to the kernel (`NetlinkSocket.acceptOnly(fromPort: 0)`: the kernel
/// refuses other senders) and enabled for `NETLINK_EXT_ACK` and `NETLINK_CAP_ACK`. Not
/// thread-safe.
public final class GenlClient {
    private let nl: OpaquePointer
    /// The libnl socket's descriptor, for raw I/O and poll (owned by libnl, closed in deinit).
    public let socket: NetlinkSocket
    /// The family id the controller assigned: the `nlmsg_type` of every ckpt message.
    public let familyID: UInt16
    public let familyName: String
    /// Encoder for this family's messages.
    public var encoder: MessageEncoder { MessageEncoder(messageType: familyID) }
    /// Longest wait, in ms, for each next datagram of an answer (-1: forever; a checkpoint's
    /// done message comes only after the whole stream was sent). Expiry is `.timedOut`.
    public var timeoutMilliseconds: Int32 = -1

    private let requestBuffer = MessageBuffer(capacity: 64 * 1024 + 4096)
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private var lastSeq: UInt32

    /// Connects a generic netlink socket and resolves `family`.
    /// Throws `.familyNotFound` when the kernel has no such family (module not loaded).
    public init(family: String = CKPT_FAMILY_NAME, receiveBufferSize: Int = 64 * 1024 + 4096) throws(TransportError) {
        guard let nl = nl_socket_alloc() else { throw .libnl(call: "nl_socket_alloc", code: -NLE_NOMEM, message: "out of memory") }
        let connected = genl_connect(nl)
        if connected < 0 {
            nl_socket_free(nl)
            throw Self.libnlError("genl_connect", connected)
        }
        // Only the kernel may send to this socket: it may become the capture sink, whose
        // port a process with CAP_NET_ADMIN over the network namespace (root) could
        // otherwise unicast forged stream messages to (others get EPERM from the family).
        do {
            try NetlinkSocket(borrowing: nl_socket_get_fd(nl)).acceptOnly(fromPort: 0)
        } catch {
            nl_socket_free(nl)
            throw error
        }
        let id = genl_ctrl_resolve(nl, family)
        if id < 0 {
            nl_socket_free(nl)
            if -id == NLE_OBJ_NOTFOUND { throw .familyNotFound(family) }
            throw Self.libnlError("genl_ctrl_resolve(\(family))", id)
        }
        self.nl = nl
        familyID = UInt16(id)
        familyName = family
        socket = NetlinkSocket(borrowing: nl_socket_get_fd(nl))
        receiveBuffer = .allocate(byteCount: receiveBufferSize, alignment: 8)
        lastSeq = UInt32(truncatingIfNeeded: time(nil)) & 0x00ff_ffff
        try socket.setExtendedAck(true)
        try socket.setCappedAck(true)
    }

    deinit {
        receiveBuffer.deallocate()
        nl_socket_free(nl)
    }

    /// The socket's netlink port id (the sink's port after `registerSink`).
    public var portID: UInt32 { nl_socket_get_local_port(nl) }

    static func libnlError(_ call: String, _ code: Int32) -> TransportError {
        .libnl(call: call, code: code, message: String(cString: nl_geterror(code)))
    }

    /// A fresh nlmsg_seq (never 0).
    func nextSeq() -> UInt32 {
        lastSeq &+= 1
        if lastSeq == 0 { lastSeq = 1 }
        return lastSeq
    }

    // MARK: requests

    /// Sends the request `build` writes (given the header to use: nlmsg_seq assigned here)
    /// and waits for its answer: each reply message with that seq goes to `reply`, then
    /// the ack ends the wait (without NLM_F_ACK in the request, the first reply does).
    /// An error answer throws `.kernel` with errno and extack.
    public func transact(
        _ build: (MessageHeader, MessageBuffer) -> Void,
        reply: (NetlinkMessage) throws(ProtocolError) -> Void = { _ throws(ProtocolError) in }
    ) throws(TransportError) {
        let seq = try send(build)
        let flags = requestBuffer.bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        var pending = [seq]
        try awaitAcks(&pending, until: 0, replyEnds: flags & UInt16(NLM_F_ACK) == 0, reply: reply)
    }

    /// Sends one request without waiting; returns its nlmsg_seq.
    public func send(_ build: (MessageHeader, MessageBuffer) -> Void) throws(TransportError) -> UInt32 {
        let seq = nextSeq()
        requestBuffer.removeAll()
        build(MessageHeader(seq: seq, portID: 0), requestBuffer)
        try socket.send(requestBuffer.bytes, toPort: 0)
        return seq
    }

    /// Sends one request whose last attribute's value is `trailing`, sent from where it is
    /// (`build` encodes the rest and returns the padding to send after it); returns its
    /// nlmsg_seq.
    public func send(_ build: (MessageHeader, MessageBuffer) -> Int, trailing: UnsafeRawBufferPointer) throws(TransportError) -> UInt32 {
        let seq = nextSeq()
        requestBuffer.removeAll()
        let padding = build(MessageHeader(seq: seq, portID: 0), requestBuffer)
        try socket.send(requestBuffer.bytes, trailing: trailing, padding: padding, toPort: 0)
        return seq
    }

    /// The kernel's answer to one acked request: the request's nlmsg_seq, and its rejection
    /// (errno, extack), nil for an ack.
    public struct Answer {
        public var seq: UInt32
        public var rejection: NetlinkErrorMessage?
    }

    /// The one ack reader (`awaitAcks` and CkptReplay's `GenlRestartLink` both use it):
    /// receives one datagram from the kernel, waiting up to `timeoutMilliseconds`, appends its
    /// `NLMSG_ERROR` answers to `answers` in order, and hands the family's other messages to
    /// `reply`. Everything received is the kernel's (the socket is connected to it); a
    /// signal while waiting without a timeout returns with nothing appended.
    public func receiveAnswers(
        into answers: inout [Answer],
        reply: (NetlinkMessage) throws(ProtocolError) -> Void = { _ throws(ProtocolError) in }
    ) throws(TransportError) {
        guard let received = try socket.receive(into: receiveBuffer, timeoutMilliseconds: timeoutMilliseconds) else {
            if timeoutMilliseconds < 0 { return }  // a signal: the caller waits again
            throw .timedOut("an answer from family \(familyName)")
        }
        var reader = NetlinkMessageReader(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<received.count]))
        do throws(ProtocolError) {
            while let m = try reader.next() {
                if m.type == UInt16(NLMSG_ERROR) {
                    let e = try NetlinkErrorMessage(m)
                    answers.append(Answer(seq: e.requestSeq, rejection: e.isAck ? nil : e))
                } else if m.type == familyID {
                    try reply(m)
                }
            }
        } catch {
            throw .protocolViolation(error)
        }
    }

    /// Receives until at most `until` of the `pending` seqs remain unacknowledged.
    /// Acks for seqs not pending are ignored; so are messages of other seqs, except the
    /// checkpoint-read and checkpoint-done of outstanding checkpoints, kept for their
    /// waiters. With `replyEnds` (a request sent without NLM_F_ACK) a reply answers its
    /// request. The first rejection of a pending request throws `.kernel`.
    func awaitAcks(
        _ pending: inout [UInt32], until remaining: Int, replyEnds: Bool = false,
        reply: (NetlinkMessage) throws(ProtocolError) -> Void = { _ throws(ProtocolError) in }
    ) throws(TransportError) {
        var answers: [Answer] = []
        var replied: [UInt32] = []
        while pending.count > remaining {
            answers.removeAll(keepingCapacity: true)
            replied.removeAll(keepingCapacity: true)
            let waiting = pending
            try receiveAnswers(into: &answers) { (m: NetlinkMessage) throws(ProtocolError) in
                guard waiting.contains(m.seq) else {
                    _ = try events.keep(m)  // another checkpoint's, for its await
                    return
                }
                try reply(m)
                if replyEnds { replied.append(m.seq) }
            }
            for seq in replied {
                if let i = pending.firstIndex(of: seq) { pending.remove(at: i) }
            }
            for answer in answers {
                guard let i = pending.firstIndex(of: answer.seq) else { continue }
                pending.remove(at: i)
                if let e = answer.rejection {
                    throw .kernel(errno: Errno(rawValue: e.errno), message: e.message,
                                  attributeOffset: e.attributeOffset, requestSeq: e.requestSeq)
                }
            }
        }
    }

    // MARK: ckpt commands

    /// `CKPT_CMD_SINK_REGISTER`: this socket becomes the namespace's capture sink.
    public func registerSink() throws(TransportError) {
        try transact { h, b in encoder.sinkRegister(header: h, into: b) }
    }

    /// `CKPT_CMD_SINK_UNREGISTER`.
    public func unregisterSink() throws(TransportError) {
        try transact { h, b in encoder.sinkUnregister(header: h, into: b) }
    }

    /// `CKPT_CMD_CHECKPOINT`: the kernel admits the stream (reply: its crid) and produces it
    /// on its own; `CKPT_CMD_CHECKPOINT_DONE`, with this request's nlmsg_seq, says how it
    /// ended. Returns the counts of a completed stream; an aborted one throws `.kernel` with
    /// the abort's errno and reason. This socket must stay open until then: closing it
    /// aborts the stream (requester-gone). `admitted` runs once the crid is known.
    public func checkpoint(pid: UInt32, flags: UInt32 = 0, timeoutMs: UInt32 = 0, parent: PreCopyParent? = nil,
                           admitted: (UInt64) -> Void = { _ in }) throws(TransportError) -> CheckpointReply {
        let started = try beginCheckpoint(pid: pid, flags: flags, timeoutMs: timeoutMs, parent: parent)
        admitted(started.crid)
        return try awaitCheckpointDone(started)
    }

    /// A checkpoint the kernel admitted and is producing: its request's nlmsg_seq (which the
    /// kernel's checkpoint-read and checkpoint-done carry) and its crid.
    public struct AdmittedCheckpoint: Equatable, Sendable {
        public let seq: UInt32
        public let crid: UInt64
    }

    /// Sends `CKPT_CMD_CHECKPOINT` and returns once the kernel admitted it (a refusal throws
    /// `.kernel`). Its checkpoint-read and checkpoint-done are kept as they arrive, also
    /// while this client waits for something else, until `awaitCheckpointDone` takes them:
    /// several checkpoints may be outstanding on one client.
    public func beginCheckpoint(pid: UInt32, flags: UInt32 = 0, timeoutMs: UInt32 = 0,
                                parent: PreCopyParent? = nil) throws(TransportError) -> AdmittedCheckpoint {
        let seq = try send { h, b in
            encoder.checkpoint(pid: pid, flags: flags, timeoutMs: timeoutMs, parent: parent, header: h, into: b)
        }
        events.expect(seq)
        var crid: UInt64?
        var pending = [seq]
        do throws(TransportError) {
            try awaitAcks(&pending, until: 0) { (m: NetlinkMessage) throws(ProtocolError) in
                if try !events.keep(m) { crid = try ReplyDecoder.checkpointAdmitted(m) }
            }
        } catch {
            events.forget(seq)
            throw error
        }
        guard let crid else {
            events.forget(seq)
            throw .protocolViolation(Self.noReply(CKPT_CMD_CHECKPOINT))
        }
        return AdmittedCheckpoint(seq: seq, crid: crid)
    }

    /// Waits until the kernel has read the task of `checkpoint` (checkpoint-read, sent for a
    /// stream with the hold flag whose task the requester stopped) or the stream ended,
    /// whichever comes first. Returns true for the read, false when checkpoint-done came
    /// without it (no holding: hold_total_mib 0, a module that never sends it, a stream
    /// that failed first): the stream is over then, the task read or not to be.
    public func awaitCheckpointRead(_ checkpoint: AdmittedCheckpoint) throws(TransportError) -> Bool {
        try receiveCheckpointEvents { events.wasRead(checkpoint.seq) || events.outcome(checkpoint.seq) != nil }
        return events.wasRead(checkpoint.seq)
    }

    /// For a checkpoint requested with the await-go flag: waits until its reserve is made
    /// (checkpoint-reserved) and returns its pages, or nil when the stream ended first
    /// (checkpoint-done, which `awaitCheckpointDone` then returns or throws).
    public func awaitCheckpointReserved(_ checkpoint: AdmittedCheckpoint) throws(TransportError) -> UInt64? {
        try receiveCheckpointEvents { events.reserved(checkpoint.seq) != nil || events.outcome(checkpoint.seq) != nil }
        return events.reserved(checkpoint.seq)
    }

    /// `CKPT_CMD_CHECKPOINT_GO`: the kernel reads the task of `checkpoint` (requested with
    /// the await-go flag, on this socket) now; the caller has stopped it.
    public func checkpointGo(_ checkpoint: AdmittedCheckpoint) throws(TransportError) {
        try transact { h, b in encoder.checkpointGo(crid: checkpoint.crid, header: h, into: b) }
    }

    /// Waits for checkpoint-done of `checkpoint` and returns its counts; an aborted stream
    /// throws `.kernel` with the abort's errno and reason.
    public func awaitCheckpointDone(_ checkpoint: AdmittedCheckpoint) throws(TransportError) -> CheckpointReply {
        try receiveCheckpointEvents { events.outcome(checkpoint.seq) != nil }
        let outcome = events.outcome(checkpoint.seq)!
        events.forget(checkpoint.seq)
        switch outcome {
        case let .completed(reply):
            return reply
        case let .aborted(_, reason, message, errno):
            throw .kernel(errno: Errno(rawValue: errno), message: "\(message) (abort reason \(reason))",
                          attributeOffset: nil, requestSeq: checkpoint.seq)
        }
    }

    /// The events of this client's outstanding checkpoints.
    private var events = CheckpointEvents()

    /// Receives (through the one reader) until `satisfied`; acks here answer nothing pending.
    private func receiveCheckpointEvents(until satisfied: () -> Bool) throws(TransportError) {
        var answers: [Answer] = []
        while !satisfied() {
            try receiveAnswers(into: &answers) { (m: NetlinkMessage) throws(ProtocolError) in
                _ = try events.keep(m)
            }
            answers.removeAll(keepingCapacity: true)
        }
    }

    /// `CKPT_CMD_STATS_GET`.
    public func stats() throws(TransportError) -> CkptStats {
        var result: CkptStats?
        try transact({ h, b in encoder.statsGet(header: h, into: b) }) {
            (m: NetlinkMessage) throws(ProtocolError) in result = try ReplyDecoder.stats(m)
        }
        guard let result else { throw .protocolViolation(Self.noReply(CKPT_CMD_STATS_GET)) }
        return result
    }

    /// `CKPT_CMD_RESTART_BEGIN`: returns the session id.
    public func restartBegin(pid: UInt32, flags: UInt32 = 0) throws(TransportError) -> UInt32 {
        var result: RestartBegun?
        try transact({ h, b in encoder.restartBegin(pid: pid, flags: flags, header: h, into: b) }) {
            (m: NetlinkMessage) throws(ProtocolError) in result = try ReplyDecoder.restartBegin(m)
        }
        guard let result else { throw .protocolViolation(Self.noReply(CKPT_CMD_RESTART_BEGIN)) }
        return try Self.sessionWithWriter(result)
    }

    /// The session id of `begun`, if its module has the session writer this program waits
    /// for (`restart-written`, `restart-done`): an older module (no flags in the reply)
    /// would leave a restore waiting for events it never sends.
    static func sessionWithWriter(_ begun: RestartBegun) throws(TransportError) -> UInt32 {
        guard begun.flags != nil else {
            throw .moduleTooOld("its restart session has no writer (restart-begin's reply carries no CKPT_A_RESTART_FLAGS), and this ckpt waits for restart-written and restart-done")
        }
        return begun.rsid
    }

    /// `CKPT_CMD_RESTART_COMMIT`: waits for the reply (the kernel accepted the commit) and
    /// the ack. The session's writer finishes afterwards and tells how with
    /// `CKPT_CMD_RESTART_DONE`; that and the other family messages read meanwhile
    /// (restart-written, a restart-done that overtook the ack) go to `event` in arrival
    /// order, for the caller to keep. Acks of other requests are dropped: commit with no
    /// request outstanding.
    public func restartCommit(
        rsid: UInt32, seq: UInt32, summary: StreamSummary,
        event: (NetlinkMessage) throws(ProtocolError) -> Void = { _ throws(ProtocolError) in }
    ) throws(TransportError) -> RestartCommitReply {
        let requestSeq = try send { h, b in encoder.restartCommit(rsid: rsid, seq: seq, summary: summary, header: h, into: b) }
        var result: RestartCommitReply?
        var answers: [Answer] = []
        var acked = false
        let commit = UInt8(CKPT_CMD_RESTART_COMMIT)
        while !acked {
            answers.removeAll(keepingCapacity: true)
            try receiveAnswers(into: &answers) { (m: NetlinkMessage) throws(ProtocolError) in
                // restart-done carries the commit's nlmsg_seq too: the command tells them apart.
                if m.seq == requestSeq, try MessageFraming.command(of: m) == commit {
                    result = try ReplyDecoder.restartCommit(m)
                } else {
                    try event(m)
                }
            }
            for answer in answers where answer.seq == requestSeq {
                if let e = answer.rejection {
                    throw .kernel(errno: Errno(rawValue: e.errno), message: e.message,
                                  attributeOffset: e.attributeOffset, requestSeq: e.requestSeq)
                }
                acked = true
            }
        }
        // The doit's reply is queued before netlink_rcv_skb's ack.
        guard let result else { throw .protocolViolation(Self.noReply(CKPT_CMD_RESTART_COMMIT)) }
        return result
    }

    /// `CKPT_CMD_RESTART_ABORT`.
    public func restartAbort(rsid: UInt32) throws(TransportError) {
        try transact { h, b in encoder.restartAbort(rsid: rsid, header: h, into: b) }
    }

    static func noReply(_ command: Int) -> ProtocolError {
        ProtocolError(.missingAttribute, field: "reply to \(MessageFraming.commandName(UInt8(command)))", offset: 0)
    }
}
