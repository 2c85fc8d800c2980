/// The attributes of one region (a message or a nest), indexed by type, after a strict walk.
///
/// Holds slices of the datagram (no copy) and each attribute's header offset for errors.
/// Lives on the stack: 1.3 KiB (16 bytes a type), no allocation. `parse` enforces, in stream order:
///
/// 1. framing (`NetlinkAttributeReader`);
/// 2. flags: `NLA_F_NET_BYTEORDER` never; `NLA_F_NESTED` exactly on nests; a nest flag on
///    an attribute inside a nest (depth >= 1) is `.nestingTooDeep`: ckpt's tree is 2 deep;
/// 3. type known in the set and in `allowed`, else `.unknownAttribute` (with `.skipped`
///    newer types, a type past every one this build knows is passed over instead);
/// 4. no type twice (`CKPT_A_*_PAD` excepted), else `.duplicateAttribute`;
/// 5. value size: u32 4, u64 8, pad 0, string NUL-terminated without interior NUL and
///    within its maximum.
public struct AttributeTable {
    /// Types 0 ... 87: every attribute of every ckpt set (the meta set, the largest, ends
    /// at 82). Not AttributeMask's 128: the table is built, and copied, for every message
    /// on the receive path, and its size is most of what that costs.
    public static let capacity = 88
    public private(set) var present = AttributeMask()

    /// One attribute: its value's place in the datagram and its header's offset, in 16
    /// bytes (an attribute is under 64 KiB, a datagram under 4 GiB).
    @usableFromInline struct Slot {
        @usableFromInline var base: UnsafeRawPointer?
        @usableFromInline var count: UInt32
        @usableFromInline var offset: UInt32
        @usableFromInline init(base: UnsafeRawPointer?, count: UInt32, offset: UInt32) {
            self.base = base
            self.count = count
            self.offset = offset
        }
    }
    // Internal, not private, only so the readers below can be @inlinable.
    @usableFromInline var slots = InlineArray<88, Slot>(repeating: Slot(base: nil, count: 0, offset: 0))

    public init() {}

    /// What `parse` does with a type past the end of the set as this build knows it: one a
    /// newer module added. The stream (what an image is made of) rejects it, since its
    /// meaning would be lost; a reply to a request skips it, so that a module which says
    /// more in a reply (checkpoint-done's frozen-ns, a new counter) does not break an
    /// older CLI's command.
    public enum NewerTypes: Sendable { case rejected, skipped }

    /// Walks `region` (at `baseOffset` in the datagram). On error, attributes read before
    /// the bad one stay in the table (callers use them to name the stream).
    public mutating func parse(
        _ region: UnsafeRawBufferPointer, baseOffset: Int, container: StaticString,
        schema: [AttributeSpec?], allowed: AttributeMask, depth: Int, newer: NewerTypes = .rejected
    ) throws(ProtocolError) {
        var reader = NetlinkAttributeReader(region, baseOffset: baseOffset, container: container)
        while let attr = try reader.next() {
            if newer == .skipped, Int(attr.type) >= schema.count { continue }
            if attr.flags & NetlinkLayout.netByteOrderFlag != 0 {
                throw ProtocolError(
                    .badAttributeFlags, field: "\(AttributeSchema.name(schema, attr.type)): NLA_F_NET_BYTEORDER",
                    offset: attr.offset)
            }
            if attr.isNested, depth >= 1 {
                throw ProtocolError(
                    .nestingTooDeep, field: AttributeSchema.name(schema, attr.type), offset: attr.offset,
                    value: UInt64(depth + 1), limit: 1)
            }
            let index = Int(attr.type)
            guard index < schema.count, index < Self.capacity, let spec = schema[index], allowed.contains(attr.type)
            else {
                throw ProtocolError(
                    .unknownAttribute, field: "\(container): \(AttributeSchema.name(schema, attr.type))",
                    offset: attr.offset, value: UInt64(attr.type))
            }
            try Self.check(attr, spec)
            if case .pad = spec.kind { continue }
            if present.contains(attr.type) {
                throw ProtocolError(.duplicateAttribute, field: "\(spec.name)", offset: attr.offset,
                                    value: UInt64(attr.type))
            }
            present.insert(attr.type)
            slots[index] = Slot(base: attr.value.baseAddress, count: UInt32(attr.value.count),
                                offset: UInt32(truncatingIfNeeded: attr.offset))
        }
    }

    private static func check(_ attr: NetlinkAttribute, _ spec: AttributeSpec) throws(ProtocolError) {
        let isNest: Bool
        if case .nest = spec.kind { isNest = true } else { isNest = false }
        if attr.isNested != isNest {
            throw ProtocolError(
                .badAttributeFlags, field: "\(spec.name): NLA_F_NESTED", offset: attr.offset,
                value: UInt64(attr.flags), limit: isNest ? UInt64(NetlinkLayout.nestedFlag) : 0)
        }
        let size = attr.value.count
        func expect(_ n: Int) throws(ProtocolError) {
            if size != n {
                throw ProtocolError(.badAttributeSize, field: "\(spec.name)", offset: attr.offset,
                                    value: UInt64(size), limit: UInt64(n))
            }
        }
        switch spec.kind {
        case .pad: try expect(0)
        case .u32: try expect(4)
        case .u64: try expect(8)
        case .binary, .nest: break
        case let .string(maxLength):
            let nul = attr.value.firstIndex(of: 0)
            guard size >= 1, nul == size - 1 else {
                throw ProtocolError(.badString, field: "\(spec.name)", offset: attr.offset,
                                    value: UInt64(nul ?? size), limit: UInt64(size > 0 ? size - 1 : 0))
            }
            if size - 1 > maxLength {
                throw ProtocolError(.badString, field: "\(spec.name)", offset: attr.offset,
                                    value: UInt64(size - 1), limit: UInt64(maxLength))
            }
        }
    }

    // The readers are always inlined: out of line, each copied the whole `slots`
    // InlineArray onto its stack before indexing it, a memcpy per
    // read and about ten per record message. Inlined where the attribute type is a
    // constant, the caller loads the one element; with a run-time type the copy comes
    // back (tools/bench/count-table-copies counts them in a release build).
    @inlinable @inline(__always) public func has(_ type: Int) -> Bool { present.contains(UInt16(type)) }
    /// The value of `type` (empty when absent).
    @inlinable @inline(__always) public func value(_ type: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: slots[type].base, count: Int(slots[type].count))
    }
    /// The datagram offset of `type`'s header (0 when absent).
    @inlinable @inline(__always) public func offset(_ type: Int) -> Int { Int(slots[type].offset) }
    /// A u32 value (size already checked); 0 when absent.
    @inlinable @inline(__always) public func u32(_ type: Int) -> UInt32 { has(type) ? value(type).u32(at: 0) : 0 }
    /// A u64 value (size already checked); 0 when absent.
    @inlinable @inline(__always) public func u64(_ type: Int) -> UInt64 { has(type) ? value(type).u64(at: 0) : 0 }
    /// A string's bytes without the NUL (checked), empty when absent.
    @inlinable @inline(__always) public func stringBytes(_ type: Int) -> UnsafeRawBufferPointer {
        guard has(type) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let v = value(type)
        return UnsafeRawBufferPointer(rebasing: v[v.startIndex..<(v.endIndex - 1)])
    }
    public func string(_ type: Int) -> String? {
        has(type) ? String(decoding: stringBytes(type), as: UTF8.self) : nil
    }

    /// Throws `.missingAttribute` for the lowest-numbered type of `required` that is absent;
    /// `offset` is the container's header (the message or the nest).
    public func require(_ required: AttributeMask, schema: [AttributeSpec?], offset: Int) throws(ProtocolError) {
        if let missing = required.subtracting(present).first {
            throw ProtocolError(.missingAttribute, field: AttributeSchema.name(schema, missing), offset: offset,
                                value: UInt64(missing))
        }
    }
}
