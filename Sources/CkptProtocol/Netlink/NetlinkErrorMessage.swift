import CCkptUAPI

/// An `NLMSG_ERROR` message: an ack (error 0) or a failed request, with the kernel's
/// extended ack (extack) when `NETLINK_EXT_ACK` was enabled on the socket.
///
/// ```
///  | nlmsghdr (type NLMSG_ERROR, flags NLM_F_CAPPED? NLM_F_ACK_TLVS?) |
///  | error i32 (0 or -errno) | echoed request nlmsghdr (16) | request payload (absent if NLM_F_CAPPED) |
///  | extack TLVs (if NLM_F_ACK_TLVS): NLMSGERR_ATTR_MSG string, NLMSGERR_ATTR_OFFS u32, ... |
/// ```
public struct NetlinkErrorMessage: Equatable, Sendable {
    /// 0 for an ack, else a negative errno.
    public var error: Int32
    /// The echoed request's `nlmsg_seq`, to match the request.
    public var requestSeq: UInt32
    public var requestType: UInt16
    /// `NLMSGERR_ATTR_MSG`: the kernel's reason.
    public var message: String?
    /// `NLMSGERR_ATTR_OFFS`: byte offset in the request of the offending attribute.
    public var attributeOffset: UInt32?
    /// `NLMSGERR_ATTR_MISS_TYPE`: the missing attribute's type.
    public var missingType: UInt32?
    /// `NLMSGERR_ATTR_MISS_NEST`: offset of the nest that misses it.
    public var missingNest: UInt32?

    public var isAck: Bool { error == 0 }
    /// The positive errno (0 for an ack).
    public var errno: Int32 { 0 &- error }

    /// Parses `message`, which must be of type `NLMSG_ERROR`. Unknown extack TLVs are
    /// skipped (the kernel adds new ones); malformed framing is a `ProtocolError`.
    public init(_ message: NetlinkMessage) throws(ProtocolError) {
        let p = message.payload
        let fixed = NetlinkLayout.errorHeaderSize
        guard p.count >= fixed else {
            throw ProtocolError(.badMessageLength, field: "nlmsgerr", offset: message.offset,
                                value: UInt64(p.count), limit: UInt64(fixed))
        }
        error = p.i32(at: 0)
        requestType = p.u16(at: 8)
        requestSeq = p.u32(at: 12)
        var tlvStart = fixed
        if message.flags & UInt16(NLM_F_CAPPED) == 0 {
            // The whole request is echoed: skip its payload.
            let echoed = Int(p.u32(at: 4))
            tlvStart = 4 + NetlinkLayout.alignMessage(max(echoed, NetlinkLayout.messageHeaderSize))
        }
        guard message.flags & UInt16(NLM_F_ACK_TLVS) != 0, tlvStart < p.count else { return }
        let region = UnsafeRawBufferPointer(rebasing: p[tlvStart...])
        var reader = NetlinkAttributeReader(region, baseOffset: message.payloadOffset + tlvStart, container: "nlmsgerr TLVs")
        while let attr = try reader.next() {
            switch Int(attr.type) {
            case Int(NLMSGERR_ATTR_MSG.rawValue):
                let bytes = attr.value.prefix { $0 != 0 }
                self.message = String(decoding: bytes, as: UTF8.self)
            case Int(NLMSGERR_ATTR_OFFS.rawValue) where attr.value.count == 4:
                attributeOffset = attr.value.u32(at: 0)
            case Int(NLMSGERR_ATTR_MISS_TYPE.rawValue) where attr.value.count == 4:
                missingType = attr.value.u32(at: 0)
            case Int(NLMSGERR_ATTR_MISS_NEST.rawValue) where attr.value.count == 4:
                missingNest = attr.value.u32(at: 0)
            default:
                continue
            }
        }
    }

    public init(error: Int32, requestSeq: UInt32, requestType: UInt16, message: String? = nil,
                attributeOffset: UInt32? = nil, missingType: UInt32? = nil, missingNest: UInt32? = nil) {
        self.error = error
        self.requestSeq = requestSeq
        self.requestType = requestType
        self.message = message
        self.attributeOffset = attributeOffset
        self.missingType = missingType
        self.missingNest = missingNest
    }
}
