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
        if let k = KernelLayout.prefix(p) {
            (crid, seq, rawType, id, parent, dataLength, dataOffset) = k
            seen = required
            cursor = h + KernelLayout.prefixSize
            if let tail = KernelLayout.dataTail(p, at: cursor) {
                (dataChecksum, data) = (tail.checksum, tail.data)
                seen |= 1 << UInt64(CKPT_A_DATA)
                if tail.checksum != nil { seen |= 1 << UInt64(CKPT_A_DATA_CHECKSUM) }
                cursor = end
            }
        }
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

/// A record message as the kernel lays it out (emit.c, `ckpt_frag_open`, where unaligned
/// access is cheap and `nla_put_u64_64bit` puts no pad, as on x86-64), read at fixed
/// offsets: its seven fixed attributes first, in this order, and for a fragment with data,
/// `CKPT_A_DATA_CHECKSUM` then `CKPT_A_DATA` to the end. `RecordFastPath` takes what matches
/// from here and walks the rest attribute by attribute (~250 fewer instructions a 4 KiB
/// message: tools/bench/listener-instructions). Each header is compared whole (length and
/// type, flags included), so a match is exactly what the walk would have read and checked
/// for these bytes (KernelLayoutTests: the same fragments, and the walk alone on mutants).
enum KernelLayout {
    typealias Prefix = (crid: UInt64, seq: UInt32, type: UInt32, id: UInt32, parent: UInt32,
                        dataLength: UInt64, dataOffset: UInt64)

    /// CRID and the two u64s 12 bytes each (header and value), the four u32s 8.
    static let prefixSize = 68

    /// An attribute header as `u32(at:)` reads it: nla_len, then nla_type, in host order.
    @inline(__always) static func header(_ length: Int, _ type: Int) -> UInt32 {
        #if _endian(little)
        UInt32(length) | UInt32(type) << 16
        #else
        UInt32(length) << 16 | UInt32(type)
        #endif
    }

    /// The fixed attributes, when `p` (a genl payload) starts with them as the kernel puts them.
    @inline(__always) static func prefix(_ p: UnsafeRawBufferPointer) -> Prefix? {
        let h = NetlinkLayout.genlHeaderSize
        guard p.count >= h + prefixSize,
              p.u32(at: h) == header(12, CKPT_A_CRID), p.u32(at: h + 12) == header(8, CKPT_A_SEQ),
              p.u32(at: h + 20) == header(8, CKPT_A_REC_TYPE), p.u32(at: h + 28) == header(8, CKPT_A_REC_ID),
              p.u32(at: h + 36) == header(8, CKPT_A_REC_PARENT), p.u32(at: h + 44) == header(12, CKPT_A_DATA_LEN),
              p.u32(at: h + 56) == header(12, CKPT_A_DATA_OFFSET) else { return nil }
        return (p.u64(at: h + 4), p.u32(at: h + 16), p.u32(at: h + 24), p.u32(at: h + 32), p.u32(at: h + 40),
                p.u64(at: h + 48), p.u64(at: h + 60))
    }

    /// The data of a fragment that ends as the kernel ends one, from `at` on: its checksum
    /// (nil when the message has none) and `CKPT_A_DATA`, the last attribute, which the
    /// message's end leaves no room after (only its alignment). Nil for anything else.
    @inline(__always) static func dataTail(_ p: UnsafeRawBufferPointer, at: Int) -> (checksum: UInt32?, data: UnsafeRawBufferPointer)? {
        var at = at
        var sum: UInt32? = nil
        if p.count - at >= 8, p.u32(at: at) == header(8, CKPT_A_DATA_CHECKSUM) {
            sum = p.u32(at: at + 4)
            at += 8
        }
        guard p.count - at >= NetlinkLayout.attributeHeaderSize, p.u16(at: at + 2) == UInt16(CKPT_A_DATA) else { return nil }
        let length = Int(p.u16(at: at))
        guard length >= NetlinkLayout.attributeHeaderSize, length <= p.count - at,
              NetlinkLayout.alignAttribute(length) >= p.count - at else { return nil }
        let start = at + NetlinkLayout.attributeHeaderSize
        return (sum, UnsafeRawBufferPointer(rebasing: p[start..<(at + length)]))
    }
}
