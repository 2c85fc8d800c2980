/// One attribute: type, flags and value, a slice of the datagram (no copy).
///
/// ```
///  offset
///  v
///  | nla_len u16 | nla_type u16 | value (nla_len - 4 bytes) | pad to 4 |
///                  bit 15 NLA_F_NESTED, bit 14 NLA_F_NET_BYTEORDER, bits 0-13 the type
/// ```
public struct NetlinkAttribute {
    /// Byte offset of the `nlattr` header in the datagram.
    public var offset: Int
    /// The type without flag bits.
    public var type: UInt16
    /// `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits as sent.
    public var flags: UInt16
    public var value: UnsafeRawBufferPointer

    /// Byte offset of the value in the datagram.
    public var valueOffset: Int { offset + NetlinkLayout.attributeHeaderSize }
    public var isNested: Bool { flags & NetlinkLayout.nestedFlag != 0 }
}

/// Walks the attributes of one region (a message's attribute area or a nest's value),
/// strictly, the way the kernel's `nla_validate` does with `NL_VALIDATE_TRAILING`:
///
/// - `nla_len` must be at least 4 and fit in the region: else `.badAttributeLength`;
/// - the next attribute starts at `NLA_ALIGN(nla_len)`; the last one's padding may be
///   missing; 1 to 3 bytes left where a header should start are `.trailingBytes`.
///
/// `baseOffset` is the region's offset in the datagram, so errors point into the datagram.
/// `container` names the region in errors ("message", "CKPT_A_META"). O(1) per attribute.
public struct NetlinkAttributeReader {
    public let region: UnsafeRawBufferPointer
    public let baseOffset: Int
    public let container: StaticString
    private var cursor = 0

    public init(_ region: UnsafeRawBufferPointer, baseOffset: Int, container: StaticString) {
        self.region = region
        self.baseOffset = baseOffset
        self.container = container
    }

    public mutating func next() throws(ProtocolError) -> NetlinkAttribute? {
        let remaining = region.count - cursor
        if remaining == 0 { return nil }
        let headerSize = NetlinkLayout.attributeHeaderSize
        guard remaining >= headerSize else {
            throw ProtocolError(
                .trailingBytes, field: "\(container)", offset: baseOffset + cursor,
                value: UInt64(remaining))
        }
        let length = Int(region.u16(at: cursor))
        guard length >= headerSize, length <= remaining else {
            throw ProtocolError(
                .badAttributeLength, field: "\(container): nlattr.nla_len", offset: baseOffset + cursor,
                value: UInt64(length), limit: UInt64(length < headerSize ? headerSize : remaining))
        }
        let rawType = region.u16(at: cursor + 2)
        let start = cursor
        cursor = min(start + NetlinkLayout.alignAttribute(length), region.count)
        return NetlinkAttribute(
            offset: baseOffset + start,
            type: rawType & NetlinkLayout.typeMask,
            flags: rawType & ~NetlinkLayout.typeMask,
            value: UnsafeRawBufferPointer(rebasing: region[(start + headerSize)..<(start + length)]))
    }
}
