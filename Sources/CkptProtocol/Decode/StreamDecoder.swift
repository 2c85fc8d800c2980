import CCkptUAPI

/// Decodes received datagrams into `StreamEvent`s: the sink side of the protocol.
///
/// ```
///  datagram (one recvmsg):
///  | nlmsghdr | genlmsghdr | attrs ... | nlmsghdr | genlmsghdr | attrs ... | ...
///     \__________ one StreamEvent _____/  \__________ one StreamEvent _____/
///  RecordFragment.meta / .data  -> slices of the datagram (no copy)
/// ```
///
/// Contract:
/// - Zero allocation and zero copy on the success path: events hold slices of `datagram`,
///   valid only while the caller keeps that buffer (the listener's pool does).
/// - Strict: every rule of the UAPI header is checked (framing, message type, genl version,
///   command, allowed/required/duplicate attributes, sizes, flags, ranges, fragment rules,
///   the meta fields of the record type). Violations throw `ProtocolError`.
/// - Messages are delivered in datagram order as they are decoded: when message k is bad,
///   messages before it have been delivered and the error's `offset` points into message k.
///   Errors thrown by `body` propagate unchanged.
/// - Acks, `NLMSG_NOOP` and `NLMSG_DONE` are skipped; an `NLMSG_ERROR` with an error throws.
/// - Cross-message rules (sequence gaps, fragment order, the record tree, totals) are
///   the reassembler's: see `RecordTreeRules`, `StreamSummaryBuilder`, `RecordDataRules`.
public struct StreamDecoder: Sendable {
    public init() {}

    /// Decodes every message of `datagram` whose `nlmsg_type` is `expectedType` (the genl
    /// family id, or `CKPT_USERSOCK_TYPE`) as a stream event: `CKPT_CMD_STREAM_BEGIN`,
    /// `_RECORD`, `_STREAM_END`, `_STREAM_ABORT`. Any other command is `.unexpectedCommand`.
    public func decode(
        datagram: UnsafeRawBufferPointer, expectedType: UInt16, _ body: (StreamEvent) throws -> Void
    ) throws {
        var reader = NetlinkMessageReader(datagram)
        while let message = try reader.next() {
            guard try MessageFraming.isCkptMessage(message, expectedType: expectedType) else { continue }
            // A well-formed record message (nearly every message of a stream) in one pass;
            // anything else through the table, which says what is wrong.
            if let fragment = RecordFastPath.fragment(message) {
                try body(.record(fragment))
            } else {
                try body(try Self.event(message))
            }
        }
    }

    /// Decodes `CKPT_CMD_RESTART_RECORD` requests only (any other command is
    /// `.unexpectedCommand`); `RequestDecoder` decodes every request. The fragment's `crid`
    /// holds the session id (rsid); `message` gives the request's nlmsg_seq and flags.
    public func decodeRestartRecords(
        datagram: UnsafeRawBufferPointer, expectedType: UInt16,
        _ body: (_ fragment: RecordFragment, _ message: NetlinkMessage) throws -> Void
    ) throws {
        var reader = NetlinkMessageReader(datagram)
        while let message = try reader.next() {
            guard try MessageFraming.isCkptMessage(message, expectedType: expectedType) else { continue }
            let command = try MessageFraming.command(of: message)
            guard command == UInt8(CKPT_CMD_RESTART_RECORD) else {
                throw ProtocolError(.unexpectedCommand, field: "genlmsghdr.cmd", offset: message.payloadOffset,
                                    value: UInt64(command), limit: UInt64(CKPT_CMD_RESTART_RECORD))
            }
            guard case let .restartRecord(_, fragment) = try RequestDecoder.request(message) else { continue }
            try body(fragment, message)
        }
    }

    /// One stream message to its event.
    public static func event(_ message: NetlinkMessage) throws(ProtocolError) -> StreamEvent {
        let command = try MessageFraming.command(of: message)
        let schema: CommandSchema
        switch Int(command) {
        case CKPT_CMD_STREAM_BEGIN: schema = .streamBegin
        case CKPT_CMD_RECORD: schema = .record
        case CKPT_CMD_STREAM_END: schema = .streamEnd
        case CKPT_CMD_STREAM_ABORT: schema = .streamAbort
        default:
            throw ProtocolError(.unexpectedCommand, field: "genlmsghdr.cmd", offset: message.payloadOffset,
                                value: UInt64(command))
        }
        let table = try MessageFraming.attributes(of: message, schema: schema, idType: Int(CKPT_A_CRID))
        do throws(ProtocolError) {
            let crid = table.u64(Int(CKPT_A_CRID))
            let seq = table.u32(Int(CKPT_A_SEQ))
            switch Int(command) {
            case CKPT_CMD_STREAM_BEGIN:
                try Ranges.atLeastOne(table, Int(CKPT_A_PID), "CKPT_A_PID")
                if seq != 0 {
                    throw ProtocolError(.valueOutOfRange, field: "CKPT_A_SEQ", offset: table.offset(Int(CKPT_A_SEQ)),
                                        value: UInt64(seq), limit: 0)
                }
                return .begin(crid: crid, seq: seq, pid: table.u32(Int(CKPT_A_PID)))
            case CKPT_CMD_RECORD:
                return .record(try fragment(table, message: message, idType: Int(CKPT_A_CRID)))
            case CKPT_CMD_STREAM_END:
                return .end(crid: crid, seq: seq, summary: StreamSummary(
                    records: table.u64(Int(CKPT_A_RECORDS)), bytes: table.u64(Int(CKPT_A_BYTES)),
                    checksum: table.u32(Int(CKPT_A_CHECKSUM))))
            default:
                let reason = table.u32(Int(CKPT_A_REASON))
                if reason == CKPT_ABORT_REASON_UNSPEC.rawValue || reason > CKPT_ABORT_REASON_MAX.rawValue {
                    throw ProtocolError(.valueOutOfRange, field: "CKPT_A_REASON", offset: table.offset(Int(CKPT_A_REASON)),
                                        value: UInt64(reason), limit: UInt64(CKPT_ABORT_REASON_MAX.rawValue))
                }
                return .abort(crid: crid, seq: seq, reason: reason, message: table.string(Int(CKPT_A_MESSAGE)))
            }
        } catch {
            throw error.annotated(with: table, idType: Int(CKPT_A_CRID))
        }
    }

    /// The fragment rules of one record message (`CKPT_CMD_RECORD` or `_RESTART_RECORD`):
    /// rec-type known, rec-id >= 1, data-len and data-offset <= `CKPT_RECORD_DATA_MAX`, data
    /// <= `CKPT_DATA_MAX` and within data-len, data present exactly when data-len > 0, meta
    /// present exactly in the first fragment (data-offset 0) and valid for the type.
    static func fragment(_ t: borrowing AttributeTable, message: NetlinkMessage, idType: Int) throws(ProtocolError) -> RecordFragment {
        let rawType = t.u32(Int(CKPT_A_REC_TYPE))
        guard let type = RecordType(rawValue: rawType) else {
            throw ProtocolError(.valueOutOfRange, field: "CKPT_A_REC_TYPE", offset: t.offset(Int(CKPT_A_REC_TYPE)),
                                value: UInt64(rawType), limit: UInt64(CKPT_RECORD_TYPE_TRAILER.rawValue))
        }
        try Ranges.atLeastOne(t, Int(CKPT_A_REC_ID), "CKPT_A_REC_ID")
        if idType == Int(CKPT_A_RSID) { try Ranges.atLeastOne(t, idType, "CKPT_A_RSID") }
        let dataLength = try Ranges.atMost(t, Int(CKPT_A_DATA_LEN), "CKPT_A_DATA_LEN", UInt64(CKPT_RECORD_DATA_MAX))
        let dataOffset = try Ranges.atMost(t, Int(CKPT_A_DATA_OFFSET), "CKPT_A_DATA_OFFSET", UInt64(CKPT_RECORD_DATA_MAX))
        let data = t.value(Int(CKPT_A_DATA))
        let hasData = t.has(Int(CKPT_A_DATA))
        if data.count > Int(CKPT_DATA_MAX) {
            throw ProtocolError(.dataTooLarge, field: "CKPT_A_DATA", offset: t.offset(Int(CKPT_A_DATA)),
                                value: UInt64(data.count), limit: UInt64(CKPT_DATA_MAX))
        }
        if dataOffset + UInt64(data.count) > dataLength {
            let at = hasData ? t.offset(Int(CKPT_A_DATA)) : t.offset(Int(CKPT_A_DATA_OFFSET))
            throw ProtocolError(.dataBeyondRecord, field: hasData ? "CKPT_A_DATA" : "CKPT_A_DATA_OFFSET", offset: at,
                                value: dataOffset + UInt64(data.count), limit: dataLength)
        }
        let carriesData = hasData && data.count > 0
        if dataLength == 0 ? hasData : !carriesData {
            let at = hasData ? t.offset(Int(CKPT_A_DATA)) : message.offset
            throw ProtocolError(.dataPresenceMismatch, field: "CKPT_A_DATA", offset: at,
                                value: UInt64(data.count), limit: dataLength)
        }
        if !carriesData, t.has(Int(CKPT_A_DATA_CHECKSUM)) {
            throw ProtocolError(.checksumWithoutData, field: "CKPT_A_DATA_CHECKSUM",
                                offset: t.offset(Int(CKPT_A_DATA_CHECKSUM)))
        }
        var meta: UnsafeRawBufferPointer? = nil
        if dataOffset == 0 {
            guard t.has(Int(CKPT_A_META)) else {
                throw ProtocolError(.missingAttribute, field: "CKPT_A_META", offset: message.offset,
                                    value: UInt64(CKPT_A_META))
            }
            let payload = t.value(Int(CKPT_A_META))
            _ = try MetaSchema.validate(type, payload: payload, offset: t.offset(Int(CKPT_A_META)),
                                        allowPad: idType == Int(CKPT_A_CRID))
            meta = payload
        } else if t.has(Int(CKPT_A_META)) {
            throw ProtocolError(.metaNotInFirstFragment, field: "CKPT_A_META", offset: t.offset(Int(CKPT_A_META)),
                                value: dataOffset)
        }
        let id = idType == Int(CKPT_A_RSID) ? UInt64(t.u32(idType)) : t.u64(idType)
        return RecordFragment(
            crid: id, seq: t.u32(Int(CKPT_A_SEQ)), type: type, id: t.u32(Int(CKPT_A_REC_ID)),
            parent: t.u32(Int(CKPT_A_REC_PARENT)), dataLength: dataLength, dataOffset: dataOffset,
            meta: meta, data: hasData ? data : UnsafeRawBufferPointer(start: nil, count: 0),
            dataChecksum: t.has(Int(CKPT_A_DATA_CHECKSUM)) ? t.u32(Int(CKPT_A_DATA_CHECKSUM)) : nil)
    }
}

/// Range checks shared by the decoders; each names the attribute and points at it.
/// Inlined so each call site's attribute type is a constant: an AttributeTable indexed
/// with a run-time type is copied first (see AttributeTable's readers).
enum Ranges {
    @inline(__always) static func atLeastOne(_ t: AttributeTable, _ type: Int, _ name: String) throws(ProtocolError) {
        if t.has(type), t.u32(type) < 1 {
            throw ProtocolError(.valueOutOfRange, field: name, offset: t.offset(type), value: 0, limit: 1)
        }
    }

    @inline(__always) static func atMost(_ t: AttributeTable, _ type: Int, _ name: String, _ limit: UInt64) throws(ProtocolError) -> UInt64 {
        let v = t.u64(type)
        if v > limit {
            throw ProtocolError(.valueOutOfRange, field: name, offset: t.offset(type), value: v, limit: limit)
        }
        return v
    }
}
