import CCkptUAPI

/// A request to the ckpt family, decoded: what the kernel (or a fake kernel in tests and
/// the harness) receives from requesters.
public enum CkptRequest {
    case sinkRegister
    case sinkUnregister
    case statsGet
    case checkpoint(pid: UInt32, flags: UInt32, timeoutMs: UInt32)
    case restartBegin(pid: UInt32, flags: UInt32)
    /// The fragment's `crid` holds the session id.
    case restartRecord(rsid: UInt32, RecordFragment)
    case restartCommit(rsid: UInt32, seq: UInt32, summary: StreamSummary)
    case restartAbort(rsid: UInt32)
}

/// Decodes requests as strictly as the kernel's generated policies (`ckpt-nl-gen.c`)
/// plus the handlers' checks: required attributes, no pad attributes (strict policies
/// reject them), pid and rsid >= 1, flags within their `_MASK`, and for restart-record
/// the same fragment and meta rules as the stream. Zero copy, like `StreamDecoder`.
public struct RequestDecoder: Sendable {
    public init() {}

    /// `body` gets each request with its message (nlmsg_seq, flags and port for the answer).
    public func decode(
        datagram: UnsafeRawBufferPointer, expectedType: UInt16,
        _ body: (_ request: CkptRequest, _ message: NetlinkMessage) throws -> Void
    ) throws {
        var reader = NetlinkMessageReader(datagram)
        while let message = try reader.next() {
            guard try MessageFraming.isCkptMessage(message, expectedType: expectedType) else { continue }
            try body(try Self.request(message), message)
        }
    }

    public static func request(_ message: NetlinkMessage) throws(ProtocolError) -> CkptRequest {
        let command = try MessageFraming.command(of: message)
        guard let schema = CommandSchema.request(command) else {
            throw ProtocolError(.unexpectedCommand, field: "genlmsghdr.cmd", offset: message.payloadOffset,
                                value: UInt64(command))
        }
        var t = AttributeTable()
        do throws(ProtocolError) {
            try MessageFraming.attributes(of: message, schema: schema, into: &t)
            try Ranges.atLeastOne(t, CKPT_A_PID, "CKPT_A_PID")
            try Ranges.atLeastOne(t, CKPT_A_RSID, "CKPT_A_RSID")
            switch Int(command) {
            case CKPT_CMD_SINK_REGISTER: return .sinkRegister
            case CKPT_CMD_SINK_UNREGISTER: return .sinkUnregister
            case CKPT_CMD_STATS_GET: return .statsGet
            case CKPT_CMD_CHECKPOINT:
                let flags = try mask(t, CKPT_A_CHECKPOINT_FLAGS, "CKPT_A_CHECKPOINT_FLAGS",
                                     CKPT_CHECKPOINT_FLAGS_MASK.rawValue)
                return .checkpoint(pid: t.u32(CKPT_A_PID), flags: flags, timeoutMs: t.u32(CKPT_A_TIMEOUT_MS))
            case CKPT_CMD_RESTART_BEGIN:
                let flags = try mask(t, CKPT_A_RESTART_FLAGS, "CKPT_A_RESTART_FLAGS", CKPT_RESTART_FLAGS_MASK.rawValue)
                return .restartBegin(pid: t.u32(CKPT_A_PID), flags: flags)
            case CKPT_CMD_RESTART_RECORD:
                return .restartRecord(rsid: t.u32(CKPT_A_RSID),
                                      try StreamDecoder.fragment(t, message: message, idType: CKPT_A_RSID))
            case CKPT_CMD_RESTART_COMMIT:
                return .restartCommit(rsid: t.u32(CKPT_A_RSID), seq: t.u32(CKPT_A_SEQ), summary: StreamSummary(
                    records: t.u64(CKPT_A_RECORDS), bytes: t.u64(CKPT_A_BYTES), checksum: t.u32(CKPT_A_CHECKSUM)))
            default:
                return .restartAbort(rsid: t.u32(CKPT_A_RSID))
            }
        } catch {
            throw error.annotated(with: t, idType: CKPT_A_RSID)
        }
    }

    /// Unknown flag bits are rejected (`NLA_POLICY_MASK`).
    static func mask(_ t: AttributeTable, _ type: Int, _ name: String, _ allowed: UInt32) throws(ProtocolError) -> UInt32 {
        let v = t.u32(type)
        if v & ~allowed != 0 {
            throw ProtocolError(.valueOutOfRange, field: name, offset: t.offset(type), value: UInt64(v),
                                limit: UInt64(allowed))
        }
        return v
    }
}
