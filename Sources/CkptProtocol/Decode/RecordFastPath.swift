import CCkptUAPI

/// `CKPT_CMD_RECORD` decoded in one pass, without the attribute table: a capture stream's
/// hot path, one message per fragment.
///
/// It accepts a message only when `StreamDecoder.event` would return `.record` with the
/// same fragment, and returns nil for everything else: another command, any attribute the
/// record does not carry, any flag, size, duplicate, range or fragment rule broken. The
/// caller then decodes through the table, which throws the exact error. So the rules stay
/// defined once, in `AttributeTable.parse` and `StreamDecoder.fragment`; this is a subset
/// of them, written as conditions (RecordFastPathTests: the two agree on every message of
/// the encoder's shapes and on thousands of mutants of them, and the fast path takes the
/// encoder's shapes). Measured: the listener's user time at 4 KiB fragments
/// (tools/bench/results/listener-4k-user-24/).
enum RecordFastPath {
    /// The attributes a record message must carry, as bits of their types.
    private static let required: UInt64 =
        1 << CKPT_A_CRID | 1 << CKPT_A_SEQ | 1 << CKPT_A_REC_TYPE | 1 << CKPT_A_REC_ID
        | 1 << CKPT_A_REC_PARENT | 1 << CKPT_A_DATA_LEN | 1 << CKPT_A_DATA_OFFSET

    private static let nested = Int(NLA_F_NESTED)
    private static let nestedMeta = CKPT_A_META | nested

    static func fragment(_ message: NetlinkMessage) -> RecordFragment? {
        let p = message.payload
        let h = NetlinkLayout.genlHeaderSize
        guard p.count >= h, Int(p.u8(at: 0)) == CKPT_CMD_RECORD, Int(p.u8(at: 1)) == CKPT_FAMILY_VERSION,
              p.u16(at: 2) == 0 else { return nil }
        var seen: UInt64 = 0
        var crid: UInt64 = 0, dataLength: UInt64 = 0, dataOffset: UInt64 = 0
        var seq: UInt32 = 0, rawType: UInt32 = 0, id: UInt32 = 0, parent: UInt32 = 0
        var meta: UnsafeRawBufferPointer? = nil
        var metaAt = 0
        var data: UnsafeRawBufferPointer? = nil
        var dataChecksum: UInt32? = nil
        var cursor = h
        let end = p.count
        while cursor < end {
            guard end - cursor >= NetlinkLayout.attributeHeaderSize else { return nil }
            let length = Int(p.u16(at: cursor))
            guard length >= NetlinkLayout.attributeHeaderSize, length <= end - cursor else { return nil }
            // The type with its flag bits: a flag the schema does not give the type is no match.
            let type = Int(p.u16(at: cursor + 2))
            let at = cursor
            let valueAt = cursor + NetlinkLayout.attributeHeaderSize
            let size = length - NetlinkLayout.attributeHeaderSize
            cursor = min(cursor + NetlinkLayout.alignAttribute(length), end)
            switch type {
            case CKPT_A_PAD:
                guard size == 0 else { return nil }
                continue  // pads may repeat
            case CKPT_A_CRID:
                guard size == 8 else { return nil }
                crid = p.u64(at: valueAt)
            case CKPT_A_SEQ:
                guard size == 4 else { return nil }
                seq = p.u32(at: valueAt)
            case CKPT_A_REC_TYPE:
                guard size == 4 else { return nil }
                rawType = p.u32(at: valueAt)
            case CKPT_A_REC_ID:
                guard size == 4 else { return nil }
                id = p.u32(at: valueAt)
            case CKPT_A_REC_PARENT:
                guard size == 4 else { return nil }
                parent = p.u32(at: valueAt)
            case CKPT_A_DATA_LEN:
                guard size == 8 else { return nil }
                dataLength = p.u64(at: valueAt)
            case CKPT_A_DATA_OFFSET:
                guard size == 8 else { return nil }
                dataOffset = p.u64(at: valueAt)
            case nestedMeta:
                meta = UnsafeRawBufferPointer(rebasing: p[valueAt..<(valueAt + size)])
                metaAt = at
            case CKPT_A_DATA:
                data = UnsafeRawBufferPointer(rebasing: p[valueAt..<(valueAt + size)])
            case CKPT_A_DATA_CHECKSUM:
                guard size == 4 else { return nil }
                dataChecksum = p.u32(at: valueAt)
            default:
                return nil
            }
            let bit: UInt64 = 1 << (type & ~nested)
            guard seen & bit == 0 else { return nil }
            seen |= bit
        }
        // StreamDecoder.fragment's rules, in its order.
        guard seen & required == required, let recordType = RecordType(rawValue: rawType), id >= 1,
              dataLength <= UInt64(CKPT_RECORD_DATA_MAX), dataOffset <= UInt64(CKPT_RECORD_DATA_MAX)
        else { return nil }
        let count = data?.count ?? 0
        guard count <= Int(CKPT_DATA_MAX), dataOffset + UInt64(count) <= dataLength,
              dataLength == 0 ? data == nil : count > 0, dataChecksum == nil || count > 0 else { return nil }
        if dataOffset == 0 {
            guard let meta else { return nil }
            let offset = message.payloadOffset + metaAt
            do throws(ProtocolError) {
                _ = try MetaSchema.validate(recordType, payload: meta, offset: offset, allowPad: true)
            } catch {
                return nil
            }
        } else if meta != nil {
            return nil
        }
        return RecordFragment(
            crid: crid, seq: seq, type: recordType, id: id, parent: parent, dataLength: dataLength,
            dataOffset: dataOffset, meta: meta, data: data ?? UnsafeRawBufferPointer(start: nil, count: 0),
            dataChecksum: dataChecksum)
    }
}
