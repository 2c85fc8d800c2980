import CCkptUAPI

/// `CKPT_CMD_CHECKPOINT`'s reply: the stream's id and the kernel's totals.
public struct CheckpointReply: Equatable, Sendable {
    public var crid: UInt64
    public var summary: StreamSummary
    /// How long the kernel kept the process stopped (`CKPT_A_FROZEN_NS`): nil when it did
    /// not stop it (no --stop, stopped already, the CLI stopped it) or for older modules.
    public var frozenNs: UInt64?
    public init(crid: UInt64, summary: StreamSummary, frozenNs: UInt64? = nil) {
        self.crid = crid
        self.summary = summary
        self.frozenNs = frozenNs
    }
}

/// How a checkpoint ended, from `CKPT_CMD_CHECKPOINT_DONE`.
public enum CheckpointOutcome: Equatable, Sendable {
    /// The stream ended with stream-end: these counts went to the sink.
    case completed(CheckpointReply)
    /// The stream ended with stream-abort (`enum ckpt_abort_reason`), the kernel's errno.
    case aborted(crid: UInt64, reason: UInt32, message: String, errno: Int32)
}

/// `CKPT_CMD_RESTART_BEGIN`'s reply: the session id, and the session's flags, which only a
/// module with the session writer (`restart-written`, `restart-done`) sends.
public struct RestartBegun: Equatable, Sendable {
    public var rsid: UInt32
    /// nil: an older module, which writes inside its requests and sends no writer events.
    public var flags: UInt32?
    public init(rsid: UInt32, flags: UInt32?) {
        self.rsid = rsid
        self.flags = flags
    }
}

/// `CKPT_CMD_RESTART_COMMIT`'s reply.
public struct RestartCommitReply: Equatable, Sendable {
    public var records: UInt64
    public var bytes: UInt64
    public init(records: UInt64, bytes: UInt64) {
        self.records = records
        self.bytes = bytes
    }
}

/// `CKPT_CMD_RESTART_WRITTEN`: how far a direct session's writer got. Cumulative: sent when
/// the writer's queue ran empty, so intermediate ones may be left out, never the last.
public struct RestartWritten: Equatable, Sendable {
    public var rsid: UInt32
    /// The session sequence number (`CKPT_A_SEQ` of a restart-record) of the last fragment
    /// whose pages are written: every pages fragment up to it is in the target.
    public var seq: UInt32
    /// Page bytes the session's writer has written so far.
    public var bytes: UInt64
    public init(rsid: UInt32, seq: UInt32, bytes: UInt64) {
        self.rsid = rsid
        self.seq = seq
        self.bytes = bytes
    }
}

/// `CKPT_CMD_RESTART_DONE`: how a restart session's writer ended, sent once.
public struct RestartDone: Equatable, Sendable {
    public enum Outcome: Equatable, Sendable {
        /// The commit finished: the writer wrote (or, validate-only, checked) everything.
        case completed(RestartCommitReply)
        /// The writer failed or the session was stopped (a positive errno, the reason).
        case failed(errno: Int32, message: String?)
    }
    public var rsid: UInt32
    public var outcome: Outcome
    public init(rsid: UInt32, outcome: Outcome) {
        self.rsid = rsid
        self.outcome = outcome
    }
}

/// `CKPT_CMD_STATS_GET`'s reply: the `CKPT_A_STATS` counters.
public struct CkptStats: Equatable, Sendable {
    public var streams: UInt64 = 0
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    public var aborts: UInt64 = 0
    public var waitNs: UInt64 = 0
    public var restarts: UInt64 = 0
    public var restartRejects: UInt64 = 0
    /// Pages allocated to carry streams' page data, and pages taken back from a stream's
    /// ring instead (the sink had read them).
    public var fragPagesNew: UInt64 = 0
    public var fragPagesReused: UInt64 = 0
    /// Message bytes streams with the hold flag held while their task ran again (nil: a
    /// module before session 38, which does not count them).
    public var heldBytes: UInt64?
    /// Pages streams with the hold flag allocated before stopping their task (nil: a module
    /// before session 39).
    public var holdReservedPages: UInt64?
    public init() {}
}

/// Decodes the kernel's replies to requests (one message each), strictly like the stream,
/// except that an attribute type newer than this build is skipped (`NewerTypes`).
public enum ReplyDecoder {
    /// Checks framing and the reply schema of `command`; returns the attribute table.
    public static func attributes(_ message: NetlinkMessage, command: UInt8) throws(ProtocolError) -> AttributeTable {
        let got = try MessageFraming.command(of: message)
        guard got == command, let schema = CommandSchema.reply(command) else {
            throw ProtocolError(.unexpectedCommand, field: "genlmsghdr.cmd", offset: message.payloadOffset,
                                value: UInt64(got), limit: UInt64(command))
        }
        var table = AttributeTable()
        try MessageFraming.attributes(of: message, schema: schema, into: &table, newer: .skipped)
        return table
    }

    /// `CKPT_CMD_CHECKPOINT`'s reply: the admitted stream's crid.
    public static func checkpointAdmitted(_ message: NetlinkMessage) throws(ProtocolError) -> UInt64 {
        try attributes(message, command: UInt8(CKPT_CMD_CHECKPOINT)).u64(CKPT_A_CRID)
    }

    /// `CKPT_CMD_CHECKPOINT_READ`: the crid of the stream whose task has been read.
    public static func checkpointRead(_ message: NetlinkMessage) throws(ProtocolError) -> UInt64 {
        try attributes(message, command: UInt8(CKPT_CMD_CHECKPOINT_READ)).u64(CKPT_A_CRID)
    }

    /// `CKPT_CMD_CHECKPOINT_RESERVED`: the crid of the await-go stream whose reserve is
    /// allocated, and its pages.
    public static func checkpointReserved(_ message: NetlinkMessage) throws(ProtocolError) -> (crid: UInt64, pages: UInt64) {
        let t = try attributes(message, command: UInt8(CKPT_CMD_CHECKPOINT_RESERVED))
        return (t.u64(CKPT_A_CRID), t.u64(CKPT_A_RESERVED_PAGES))
    }

    /// `CKPT_CMD_CHECKPOINT_DONE`: exactly one of the two attribute sets, complete.
    public static func checkpointDone(_ message: NetlinkMessage) throws(ProtocolError) -> CheckpointOutcome {
        let t = try attributes(message, command: UInt8(CKPT_CMD_CHECKPOINT_DONE))
        let crid = t.u64(CKPT_A_CRID)
        let counts = [CKPT_A_RECORDS, CKPT_A_BYTES, CKPT_A_CHECKSUM]
        if t.has(CKPT_A_ERROR) || t.has(CKPT_A_REASON) {
            for type in [CKPT_A_REASON, CKPT_A_ERROR] where !t.has(type) {
                throw ProtocolError(.missingAttribute, field: AttributeSchema.topName(UInt16(type)), offset: message.payloadOffset)
            }
            if let extra = (counts + [CKPT_A_FROZEN_NS]).first(where: { t.has($0) }) {
                throw ProtocolError(.unknownAttribute, field: AttributeSchema.topName(UInt16(extra)), offset: t.offset(extra))
            }
            let error = try errno(t)
            return .aborted(crid: crid, reason: t.u32(CKPT_A_REASON), message: t.string(CKPT_A_MESSAGE) ?? "",
                            errno: Int32(error))
        }
        for type in counts where !t.has(type) {
            throw ProtocolError(.missingAttribute, field: AttributeSchema.topName(UInt16(type)), offset: message.payloadOffset)
        }
        return .completed(CheckpointReply(crid: crid, summary: StreamSummary(
            records: t.u64(CKPT_A_RECORDS), bytes: t.u64(CKPT_A_BYTES), checksum: t.u32(CKPT_A_CHECKSUM)),
            frozenNs: t.has(CKPT_A_FROZEN_NS) ? t.u64(CKPT_A_FROZEN_NS) : nil))
    }

    /// The session id (`CKPT_A_RSID`, >= 1).
    public static func restartBegin(_ message: NetlinkMessage) throws(ProtocolError) -> RestartBegun {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_BEGIN))
        try Ranges.atLeastOne(t, CKPT_A_RSID, "CKPT_A_RSID")
        return RestartBegun(rsid: t.u32(CKPT_A_RSID), flags: t.has(CKPT_A_RESTART_FLAGS) ? t.u32(CKPT_A_RESTART_FLAGS) : nil)
    }

    public static func restartCommit(_ message: NetlinkMessage) throws(ProtocolError) -> RestartCommitReply {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_COMMIT))
        return RestartCommitReply(records: t.u64(CKPT_A_RECORDS), bytes: t.u64(CKPT_A_BYTES))
    }

    /// `CKPT_CMD_RESTART_WRITTEN` (rsid >= 1, seq, bytes).
    public static func restartWritten(_ message: NetlinkMessage) throws(ProtocolError) -> RestartWritten {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_WRITTEN))
        try Ranges.atLeastOne(t, CKPT_A_RSID, "CKPT_A_RSID")
        return RestartWritten(rsid: t.u32(CKPT_A_RSID), seq: t.u32(CKPT_A_SEQ), bytes: t.u64(CKPT_A_BYTES))
    }

    /// `CKPT_CMD_RESTART_DONE`: rsid and exactly one of {records, bytes} and {error,
    /// [message]}, complete.
    public static func restartDone(_ message: NetlinkMessage) throws(ProtocolError) -> RestartDone {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_DONE))
        try Ranges.atLeastOne(t, CKPT_A_RSID, "CKPT_A_RSID")
        let rsid = t.u32(CKPT_A_RSID)
        let counts = [CKPT_A_RECORDS, CKPT_A_BYTES]
        if t.has(CKPT_A_ERROR) || t.has(CKPT_A_MESSAGE) {
            if !t.has(CKPT_A_ERROR) {
                throw ProtocolError(.missingAttribute, field: "CKPT_A_ERROR", offset: message.offset)
            }
            if let extra = counts.first(where: { t.has($0) }) {
                throw ProtocolError(.unknownAttribute, field: AttributeSchema.topName(UInt16(extra)), offset: t.offset(extra))
            }
            let error = try errno(t)
            return RestartDone(rsid: rsid, outcome: .failed(errno: Int32(error), message: t.string(CKPT_A_MESSAGE)))
        }
        for type in counts where !t.has(type) {
            throw ProtocolError(.missingAttribute, field: AttributeSchema.topName(UInt16(type)), offset: message.offset)
        }
        return RestartDone(rsid: rsid, outcome: .completed(RestartCommitReply(records: t.u64(CKPT_A_RECORDS),
                                                                              bytes: t.u64(CKPT_A_BYTES))))
    }

    /// Every counter of the stats set is required.
    /// `CKPT_A_ERROR` of a done event: an errno, 1-4095.
    private static func errno(_ t: AttributeTable) throws(ProtocolError) -> UInt32 {
        let error = t.u32(CKPT_A_ERROR)
        guard error > 0, error < 4096 else {
            throw ProtocolError(.valueOutOfRange, field: "CKPT_A_ERROR", offset: t.offset(CKPT_A_ERROR),
                                value: UInt64(error), limit: 4095)
        }
        return error
    }

    public static func stats(_ message: NetlinkMessage) throws(ProtocolError) -> CkptStats {
        let t = try attributes(message, command: UInt8(CKPT_CMD_STATS_GET))
        var s = AttributeTable()
        let all = AttributeMask(
            CKPT_A_STATS_STREAMS, CKPT_A_STATS_RECORDS, CKPT_A_STATS_BYTES, CKPT_A_STATS_ABORTS, CKPT_A_STATS_WAIT_NS,
            CKPT_A_STATS_RESTARTS, CKPT_A_STATS_RESTART_REJECTS, CKPT_A_STATS_FRAG_PAGES_NEW,
            CKPT_A_STATS_FRAG_PAGES_REUSED)
        try s.parse(t.value(CKPT_A_STATS), baseOffset: t.offset(CKPT_A_STATS) + NetlinkLayout.attributeHeaderSize,
                    container: "CKPT_A_STATS", schema: AttributeSchema.stats,
                    allowed: all.union(AttributeMask(CKPT_A_STATS_PAD, CKPT_A_STATS_HELD_BYTES,
                                                     CKPT_A_STATS_HOLD_RESERVED_PAGES)), depth: 1, newer: .skipped)
        try s.require(all, schema: AttributeSchema.stats, offset: t.offset(CKPT_A_STATS))
        var r = CkptStats()
        r.streams = s.u64(CKPT_A_STATS_STREAMS)
        r.records = s.u64(CKPT_A_STATS_RECORDS)
        r.bytes = s.u64(CKPT_A_STATS_BYTES)
        r.aborts = s.u64(CKPT_A_STATS_ABORTS)
        r.waitNs = s.u64(CKPT_A_STATS_WAIT_NS)
        r.restarts = s.u64(CKPT_A_STATS_RESTARTS)
        r.restartRejects = s.u64(CKPT_A_STATS_RESTART_REJECTS)
        r.fragPagesNew = s.u64(CKPT_A_STATS_FRAG_PAGES_NEW)
        r.fragPagesReused = s.u64(CKPT_A_STATS_FRAG_PAGES_REUSED)
        if s.has(CKPT_A_STATS_HELD_BYTES) { r.heldBytes = s.u64(CKPT_A_STATS_HELD_BYTES) }
        if s.has(CKPT_A_STATS_HOLD_RESERVED_PAGES) { r.holdReservedPages = s.u64(CKPT_A_STATS_HOLD_RESERVED_PAGES) }
        return r
    }
}
