import CCkptUAPI

/// The checks every ckpt message goes through before its attributes: message type and
/// generic netlink header. Shared by the stream, request and reply decoders.
public enum MessageFraming {
    /// Decides what `message` is, given the type ckpt messages carry (`expectedType`: the
    /// genl family id, or `CKPT_USERSOCK_TYPE` over usersock):
    /// - `expectedType`: returns true (decode it);
    /// - `NLMSG_NOOP`, `NLMSG_DONE` and acks (`NLMSG_ERROR` with error 0): returns false (skip);
    /// - `NLMSG_ERROR` with an error: throws `.errorMessage` (value = errno, message = extack);
    /// - `NLMSG_OVERRUN`: throws `.overrun`;
    /// - anything else: throws `.unexpectedMessageType`.
    public static func isCkptMessage(_ message: NetlinkMessage, expectedType: UInt16) throws(ProtocolError) -> Bool {
        if message.type == expectedType { return true }
        switch Int32(message.type) {
        case NLMSG_NOOP, NLMSG_DONE:
            return false
        case NLMSG_ERROR:
            let error = try NetlinkErrorMessage(message)
            if error.isAck { return false }
            throw ProtocolError(.errorMessage, field: "nlmsgerr.error", offset: message.offset,
                                value: UInt64(UInt32(bitPattern: error.errno)), message: error.message)
        case NLMSG_OVERRUN:
            throw ProtocolError(.overrun, field: "nlmsghdr.nlmsg_type", offset: message.offset,
                                value: UInt64(message.type))
        default:
            throw ProtocolError(.unexpectedMessageType, field: "nlmsghdr.nlmsg_type", offset: message.offset,
                                value: UInt64(message.type), limit: UInt64(expectedType))
        }
    }

    /// Reads and checks the `genlmsghdr`: version `CKPT_FAMILY_VERSION`, reserved 0.
    /// Returns the command.
    public static func command(of message: NetlinkMessage) throws(ProtocolError) -> UInt8 {
        let genl = try GenlHeader(of: message)
        if genl.version != UInt8(CKPT_FAMILY_VERSION) {
            throw ProtocolError(.badVersion, field: "genlmsghdr.version", offset: message.payloadOffset,
                                value: UInt64(genl.version), limit: UInt64(CKPT_FAMILY_VERSION))
        }
        if genl.reserved != 0 {
            throw ProtocolError(.badReserved, field: "genlmsghdr.reserved", offset: message.payloadOffset,
                                value: UInt64(genl.reserved), limit: 0)
        }
        return genl.command
    }

    /// Walks the message's top-level attributes against `schema`; `.missingAttribute`
    /// points at the message header. On error the partial table annotates the stream.
    public static func attributes(
        of message: NetlinkMessage, schema: CommandSchema, into table: inout AttributeTable,
        newer: AttributeTable.NewerTypes = .rejected
    ) throws(ProtocolError) {
        let h = NetlinkLayout.genlHeaderSize
        let region = UnsafeRawBufferPointer(rebasing: message.payload[h...])
        try table.parse(region, baseOffset: message.payloadOffset + h, container: "message",
                        schema: AttributeSchema.top, allowed: schema.allowed, depth: 0, newer: newer)
        try table.require(schema.required, schema: AttributeSchema.top, offset: message.offset)
    }

    /// The same, returning the table; an error is annotated with the partial table
    /// (`idType` names the stream or session). For callers that then only read it: held as
    /// a `let`, each read indexes the table where it lies (objdump of the release build:
    /// one copy of the 1.5 KiB table per message, where filling a `var` that the caller's
    /// error path also captured cost one per attribute read; tools/bench/count-table-copies).
    public static func attributes(
        of message: NetlinkMessage, schema: CommandSchema, idType: Int
    ) throws(ProtocolError) -> AttributeTable {
        var table = AttributeTable()
        do throws(ProtocolError) { try attributes(of: message, schema: schema, into: &table) } catch {
            throw error.annotated(with: table, idType: idType)
        }
        return table
    }

    /// The command name for errors ("CKPT_CMD_RECORD").
    public static func commandName(_ command: UInt8) -> String {
        switch Int(command) {
        case CKPT_CMD_SINK_REGISTER: "CKPT_CMD_SINK_REGISTER"
        case CKPT_CMD_SINK_UNREGISTER: "CKPT_CMD_SINK_UNREGISTER"
        case CKPT_CMD_CHECKPOINT: "CKPT_CMD_CHECKPOINT"
        case CKPT_CMD_STREAM_BEGIN: "CKPT_CMD_STREAM_BEGIN"
        case CKPT_CMD_RECORD: "CKPT_CMD_RECORD"
        case CKPT_CMD_STREAM_END: "CKPT_CMD_STREAM_END"
        case CKPT_CMD_STREAM_ABORT: "CKPT_CMD_STREAM_ABORT"
        case CKPT_CMD_RESTART_BEGIN: "CKPT_CMD_RESTART_BEGIN"
        case CKPT_CMD_RESTART_RECORD: "CKPT_CMD_RESTART_RECORD"
        case CKPT_CMD_RESTART_COMMIT: "CKPT_CMD_RESTART_COMMIT"
        case CKPT_CMD_RESTART_ABORT: "CKPT_CMD_RESTART_ABORT"
        case CKPT_CMD_STATS_GET: "CKPT_CMD_STATS_GET"
        case CKPT_CMD_CHECKPOINT_DONE: "CKPT_CMD_CHECKPOINT_DONE"
        case CKPT_CMD_RESTART_WRITTEN: "CKPT_CMD_RESTART_WRITTEN"
        case CKPT_CMD_RESTART_DONE: "CKPT_CMD_RESTART_DONE"
        case CKPT_CMD_CHECKPOINT_READ: "CKPT_CMD_CHECKPOINT_READ"
        case CKPT_CMD_CHECKPOINT_RESERVED: "CKPT_CMD_CHECKPOINT_RESERVED"
        case CKPT_CMD_CHECKPOINT_GO: "CKPT_CMD_CHECKPOINT_GO"
        default: "command \(command)"
        }
    }
}

extension ProtocolError {
    /// Adds the stream identity (crid or rsid, seq) found in `table` before the error.
    func annotated(with table: AttributeTable, idType: Int) -> ProtocolError {
        var e = self
        if e.crid == nil, table.has(idType) {
            e.crid = idType == Int(CKPT_A_RSID) ? UInt64(table.u32(idType)) : table.u64(idType)
        }
        if e.seq == nil, table.has(Int(CKPT_A_SEQ)) { e.seq = table.u32(Int(CKPT_A_SEQ)) }
        return e
    }
}
