import CCkptUAPI

/// Sizes, alignment and flag bits of netlink framing, taken from `<linux/netlink.h>` and
/// `<linux/genetlink.h>` (through CCkptUAPI). The header's function-like macros
/// (`NLMSG_HDRLEN`, `NLA_HDRLEN`, `GENL_HDRLEN`, `NLMSG_ALIGN`, `NLA_ALIGN`) do not import
/// into Swift, so they are spelled here from the imported struct layouts and `*_ALIGNTO`.
///
/// ```
///  datagram:  | nlmsghdr | genlmsghdr | nlattr | value | pad | nlattr | ... | (pad) | nlmsghdr | ...
///              16 bytes    4 bytes      4 bytes  len-4   to 4                 to 4
///  nlmsghdr:  nlmsg_len u32 | nlmsg_type u16 | nlmsg_flags u16 | nlmsg_seq u32 | nlmsg_pid u32
///  genlmsghdr: cmd u8 | version u8 | reserved u16
///  nlattr:    nla_len u16 (header + value, without padding) | nla_type u16 (flags in bits 14, 15)
/// ```
public enum NetlinkLayout {
    /// `NLMSG_HDRLEN`: `sizeof(struct nlmsghdr)` aligned, 16.
    public static let messageHeaderSize = alignMessage(MemoryLayout<nlmsghdr>.size)
    /// `GENL_HDRLEN`: `sizeof(struct genlmsghdr)` aligned, 4.
    public static let genlHeaderSize = alignMessage(MemoryLayout<genlmsghdr>.size)
    /// `NLA_HDRLEN`: `sizeof(struct nlattr)` aligned, 4.
    public static let attributeHeaderSize = alignAttribute(MemoryLayout<nlattr>.size)
    /// `sizeof(struct nlmsgerr)`: error code + the echoed request header, 20.
    public static let errorHeaderSize = MemoryLayout<nlmsgerr>.size

    /// `NLA_F_NESTED`: the attribute's value is a sequence of attributes.
    public static let nestedFlag = UInt16(NLA_F_NESTED)
    /// `NLA_F_NET_BYTEORDER`: the value is big-endian; ckpt never uses it.
    public static let netByteOrderFlag = UInt16(NLA_F_NET_BYTEORDER)
    /// `NLA_TYPE_MASK`: the type bits of `nla_type`.
    public static let typeMask = ~(nestedFlag | netByteOrderFlag)

    /// `NLMSG_ALIGN(len)`.
    @inlinable public static func alignMessage(_ length: Int) -> Int {
        let a = Int(NLMSG_ALIGNTO)
        return (length + a - 1) & ~(a - 1)
    }

    /// `NLA_ALIGN(len)`.
    @inlinable public static func alignAttribute(_ length: Int) -> Int {
        let a = Int(NLA_ALIGNTO)
        return (length + a - 1) & ~(a - 1)
    }
}

/// Host-order loads from raw bytes at any alignment (netlink integers are host order).
extension UnsafeRawBufferPointer {
    @inlinable func u8(at offset: Int) -> UInt8 { self[offset] }
    @inlinable func u16(at offset: Int) -> UInt16 { loadUnaligned(fromByteOffset: offset, as: UInt16.self) }
    @inlinable func u32(at offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    @inlinable func u64(at offset: Int) -> UInt64 { loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    @inlinable func i32(at offset: Int) -> Int32 { loadUnaligned(fromByteOffset: offset, as: Int32.self) }
}
