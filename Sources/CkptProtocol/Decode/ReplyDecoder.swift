import CCkptUAPI

/// `CKPT_CMD_CHECKPOINT`'s reply: the stream's id and the kernel's totals.
public struct CheckpointReply: Equatable, Sendable {
    public var crid: UInt64
    public var summary: StreamSummary
    public init(crid: UInt64, summary: StreamSummary) {
        self.crid = crid
        self.summary = summary
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

/// `CKPT_CMD_STATS_GET`'s reply: the `CKPT_A_STATS` counters.
public struct CkptStats: Equatable, Sendable {
    public var streams: UInt64 = 0
    public var records: UInt64 = 0
    public var bytes: UInt64 = 0
    public var aborts: UInt64 = 0
    public var waitNs: UInt64 = 0
    public var restarts: UInt64 = 0
    public var restartRejects: UInt64 = 0
    public init() {}
}

/// Decodes the kernel's replies to requests (one message each), strictly like the stream.
public enum ReplyDecoder {
    /// Checks framing and the reply schema of `command`; returns the attribute table.
    public static func attributes(_ message: NetlinkMessage, command: UInt8) throws(ProtocolError) -> AttributeTable {
        let got = try MessageFraming.command(of: message)
        guard got == command, let schema = CommandSchema.reply(command) else {
            throw ProtocolError(.unexpectedCommand, field: "genlmsghdr.cmd", offset: message.payloadOffset,
                                value: UInt64(got), limit: UInt64(command))
        }
        var table = AttributeTable()
        try MessageFraming.attributes(of: message, schema: schema, into: &table)
        return table
    }

    public static func checkpoint(_ message: NetlinkMessage) throws(ProtocolError) -> CheckpointReply {
        let t = try attributes(message, command: UInt8(CKPT_CMD_CHECKPOINT))
        return CheckpointReply(crid: t.u64(CKPT_A_CRID), summary: StreamSummary(
            records: t.u64(CKPT_A_RECORDS), bytes: t.u64(CKPT_A_BYTES), checksum: t.u32(CKPT_A_CHECKSUM)))
    }

    /// The session id (`CKPT_A_RSID`, >= 1).
    public static func restartBegin(_ message: NetlinkMessage) throws(ProtocolError) -> UInt32 {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_BEGIN))
        try Ranges.atLeastOne(t, CKPT_A_RSID, "CKPT_A_RSID")
        return t.u32(CKPT_A_RSID)
    }

    public static func restartCommit(_ message: NetlinkMessage) throws(ProtocolError) -> RestartCommitReply {
        let t = try attributes(message, command: UInt8(CKPT_CMD_RESTART_COMMIT))
        return RestartCommitReply(records: t.u64(CKPT_A_RECORDS), bytes: t.u64(CKPT_A_BYTES))
    }

    /// Every counter of the stats set is required.
    public static func stats(_ message: NetlinkMessage) throws(ProtocolError) -> CkptStats {
        let t = try attributes(message, command: UInt8(CKPT_CMD_STATS_GET))
        var s = AttributeTable()
        let all = AttributeMask(
            CKPT_A_STATS_STREAMS, CKPT_A_STATS_RECORDS, CKPT_A_STATS_BYTES, CKPT_A_STATS_ABORTS, CKPT_A_STATS_WAIT_NS,
            CKPT_A_STATS_RESTARTS, CKPT_A_STATS_RESTART_REJECTS)
        try s.parse(t.value(CKPT_A_STATS), baseOffset: t.offset(CKPT_A_STATS) + NetlinkLayout.attributeHeaderSize,
                    container: "CKPT_A_STATS", schema: AttributeSchema.stats,
                    allowed: all.union(AttributeMask(CKPT_A_STATS_PAD)), depth: 1)
        try s.require(all, schema: AttributeSchema.stats, offset: t.offset(CKPT_A_STATS))
        var r = CkptStats()
        r.streams = s.u64(CKPT_A_STATS_STREAMS)
        r.records = s.u64(CKPT_A_STATS_RECORDS)
        r.bytes = s.u64(CKPT_A_STATS_BYTES)
        r.aborts = s.u64(CKPT_A_STATS_ABORTS)
        r.waitNs = s.u64(CKPT_A_STATS_WAIT_NS)
        r.restarts = s.u64(CKPT_A_STATS_RESTARTS)
        r.restartRejects = s.u64(CKPT_A_STATS_RESTART_REJECTS)
        return r
    }
}
