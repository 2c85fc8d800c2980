/// A datagram, message or attribute that breaks the ckpt wire protocol (or netlink framing).
///
/// Every decoder in CkptProtocol throws this and nothing else. It names *what* is wrong
/// (`kind`), *where* (`field`, a C-style name such as `nlmsghdr.nlmsg_len`, `CKPT_A_REC_ID`
/// or `CKPT_A_META_COMM`, and `offset`, the byte offset in the datagram of the header of the
/// offending message or attribute) and, when there is one, the offending `value` and the
/// `limit` it broke. `crid`/`seq` say which stream the message belonged to when those
/// attributes were read before the violation, so a listener can fail just that stream.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        // Framing: nlmsghdr.
        /// Fewer bytes left than a `struct nlmsghdr` where one must start.
        case truncatedMessageHeader
        /// `nlmsg_len` shorter than its header or longer than what is left of the datagram.
        case badMessageLength
        /// `nlmsg_type` is neither the expected family/usersock type nor a control type.
        case unexpectedMessageType
        /// `NLMSG_OVERRUN`: the sender reports lost data.
        case overrun
        /// `NLMSG_ERROR` with a nonzero error: `value` is the errno, `message` the extack text.
        case errorMessage
        // Framing: genlmsghdr.
        /// The message is shorter than `nlmsghdr` + `genlmsghdr`.
        case truncatedGenlHeader
        /// `genlmsghdr.version` is not `CKPT_FAMILY_VERSION`.
        case badVersion
        /// `genlmsghdr.reserved` is not 0.
        case badReserved
        /// `genlmsghdr.cmd` is not a command this decoder accepts here.
        case unexpectedCommand
        // Framing: nlattr.
        /// Fewer than 4 bytes left where an attribute header must start.
        case truncatedAttributeHeader
        /// `nla_len` below 4 or past the end of the enclosing message/nest.
        case badAttributeLength
        /// Bytes left over after the last attribute (beyond its alignment padding).
        case trailingBytes
        /// An attribute type the message's command does not carry.
        case unknownAttribute
        /// The same attribute twice.
        case duplicateAttribute
        /// A required attribute is absent.
        case missingAttribute
        /// A value of the wrong size for its type (`value` = size found, `limit` = size expected).
        case badAttributeSize
        /// `NLA_F_NESTED` missing on a nest, or present on a leaf; or `NLA_F_NET_BYTEORDER` set.
        case badAttributeFlags
        /// Attributes nested deeper than the protocol's tree (a nest inside `CKPT_A_META`).
        case nestingTooDeep
        /// A string that is not NUL-terminated, has an interior NUL, or is too long.
        case badString
        /// An integer outside its range (`value` and `limit`).
        case valueOutOfRange
        // Record semantics carried by one message.
        /// `CKPT_A_META` in a fragment other than the first (data-offset > 0).
        case metaNotInFirstFragment
        /// `CKPT_A_DATA` longer than `CKPT_DATA_MAX`.
        case dataTooLarge
        /// data-offset + data length beyond data-len.
        case dataBeyondRecord
        /// data-len > 0 and the fragment carries no data, or data-len is 0 and it carries some.
        case dataPresenceMismatch
        /// `CKPT_A_DATA_CHECKSUM` in a fragment that carries no data.
        case checksumWithoutData
    }

    public var kind: Kind
    public var field: String
    public var offset: Int
    public var value: UInt64?
    public var limit: UInt64?
    public var crid: UInt64?
    public var seq: UInt32?
    /// For `.errorMessage`: the kernel's extack message, if it sent one.
    public var message: String?

    public init(
        _ kind: Kind, field: String, offset: Int, value: UInt64? = nil, limit: UInt64? = nil,
        crid: UInt64? = nil, seq: UInt32? = nil, message: String? = nil
    ) {
        self.kind = kind
        self.field = field
        self.offset = offset
        self.value = value
        self.limit = limit
        self.crid = crid
        self.seq = seq
        self.message = message
    }

    public var description: String {
        var s = "protocol: \(kind.explanation) (\(field) at byte \(offset)"
        if let value { s += ", value \(value)" }
        if let limit { s += ", limit \(limit)" }
        if let crid { s += ", crid \(crid)" }
        if let seq { s += ", seq \(seq)" }
        s += ")"
        if let message { s += ": \(message)" }
        return s
    }
}

extension ProtocolError.Kind {
    public var explanation: String {
        switch self {
        case .truncatedMessageHeader: "datagram ends inside a netlink message header"
        case .badMessageLength: "netlink message length is shorter than its header or runs past the datagram"
        case .unexpectedMessageType: "netlink message type is not the ckpt family's"
        case .overrun: "sender reported an overrun (data lost)"
        case .errorMessage: "netlink error message"
        case .truncatedGenlHeader: "message ends inside its generic netlink header"
        case .badVersion: "generic netlink version is not CKPT_FAMILY_VERSION"
        case .badReserved: "generic netlink reserved field is not 0"
        case .unexpectedCommand: "command not expected here"
        case .truncatedAttributeHeader: "message ends inside an attribute header"
        case .badAttributeLength: "attribute length is below 4 or runs past its container"
        case .trailingBytes: "bytes left over after the last attribute"
        case .unknownAttribute: "attribute not allowed in this message"
        case .duplicateAttribute: "attribute appears twice"
        case .missingAttribute: "required attribute missing"
        case .badAttributeSize: "attribute value has the wrong size for its type"
        case .badAttributeFlags: "attribute nesting/byte-order flags are wrong"
        case .nestingTooDeep: "attributes nested deeper than the protocol allows"
        case .badString: "string is not a NUL-terminated string of allowed length"
        case .valueOutOfRange: "value out of range"
        case .metaNotInFirstFragment: "meta in a fragment other than the first"
        case .dataTooLarge: "fragment data longer than CKPT_DATA_MAX"
        case .dataBeyondRecord: "fragment data runs past the record's data-len"
        case .dataPresenceMismatch: "fragment data present/absent contrary to data-len"
        case .checksumWithoutData: "data checksum in a fragment without data"
        }
    }
}
