import CCkptUAPI

/// A reusable, growable byte buffer that netlink messages are written into.
///
/// ```
///  base (8-byte aligned)
///  v
///  | message 0 ........ | message 1 ........ | ...           |   free   |
///  0                                                     count      capacity
/// ```
///
/// Contract:
/// - Bytes are appended at `count`; `removeAll()` rewinds to 0 and keeps the storage, so
///   once the buffer has grown to the largest message, building messages allocates nothing.
/// - `base` is 8-aligned and every message is written at a 4-aligned offset, so
///   "u64 payload 8-aligned" (`nla_put_u64_64bit`) is decided on offsets, as the kernel
///   decides it on addresses.
/// - `bytes` is valid until the next append (which may move the storage).
/// - Lengths that do not fit their field (an attribute over 65,535 bytes) are programmer
///   errors and trap.
///
/// The low-level writers (`beginMessage`, `appendU32`, `beginNest`, `appendRaw`, ...) are
/// public so tests and the fault injector can build messages the encoder never would.
public final class MessageBuffer {
    private var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public private(set) var count = 0

    /// - Parameter capacity: initial bytes; the default holds one largest record message.
    public init(capacity: Int = 64 * 1024 + 4096) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// Rewinds to empty, keeping the storage. O(1).
    public func removeAll() { count = 0 }

    /// The bytes written so far.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The bytes of `range` (e.g. one message returned by an encoder).
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Mutable access to written bytes, for tests and fault injection (patching a field).
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Makes room for `n` more bytes; returns where they go. Amortized O(1).
    private func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        if count + n > capacity {
            var newCapacity = capacity * 2
            while newCapacity < count + n { newCapacity *= 2 }
            let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }
        return base + count
    }

    // MARK: raw writers

    /// Appends bytes as they are.
    public func appendRaw(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        reserve(raw.count).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        count += raw.count
    }

    public func appendRaw(_ raw: [UInt8]) { raw.withUnsafeBytes { appendRaw($0) } }

    /// Appends zero bytes until `count` is a multiple of `alignment`.
    public func pad(to alignment: Int) {
        let n = (alignment - count % alignment) % alignment
        guard n > 0 else { return }
        reserve(n).initializeMemory(as: UInt8.self, repeating: 0, count: n)
        count += n
    }

    @inline(__always) private func put<T: FixedWidthInteger>(_ v: T) {
        reserve(MemoryLayout<T>.size).storeBytes(of: v, as: T.self)
        count += MemoryLayout<T>.size
    }

    /// Appends one integer in host byte order (no header, no padding).
    public func appendInteger<T: FixedWidthInteger>(_ v: T) { put(v) }

    /// Overwrites a u32/u16 already written at `offset`.
    public func patch<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count)
        (base + offset).storeBytes(of: v, toByteOffset: 0, as: T.self)
    }

    // MARK: netlink framing

    /// Starts a message: writes an `nlmsghdr` with length 0 (fixed by `endMessage`).
    /// Returns the message's start offset. Pads the buffer to 4 first.
    public func beginMessage(type: UInt16, flags: UInt16, seq: UInt32, portID: UInt32) -> Int {
        pad(to: Int(NLMSG_ALIGNTO))
        let start = count
        put(UInt32(0))
        put(type)
        put(flags)
        put(seq)
        put(portID)
        return start
    }

    /// Appends a `genlmsghdr`: cmd, version, reserved 0.
    public func appendGenlHeader(command: UInt8, version: UInt8) {
        put(command)
        put(version)
        put(UInt16(0))
    }

    /// Sets `nlmsg_len` of the message begun at `start` to everything written since.
    /// Returns the message's range.
    @discardableResult
    public func endMessage(_ start: Int) -> Range<Int> {
        pad(to: Int(NLMSG_ALIGNTO))
        patch(UInt32(count - start), at: start)
        return start..<count
    }

    /// Appends the header of an attribute whose `valueLength` bytes the caller sends from a
    /// buffer of its own right after this message's bytes (an iovec: not copied here), and
    /// counts them and their padding in the message at `messageStart`. Returns how many
    /// zero bytes of padding must follow the value. The attribute must be the message's last.
    public func appendTrailingAttributeHeader(_ type: Int, valueLength: Int, messageStart: Int) -> Int {
        let length = NetlinkLayout.attributeHeaderSize + valueLength
        precondition(length <= Int(UInt16.max), "attribute \(type) of \(valueLength) bytes does not fit nla_len")
        put(UInt16(length))
        put(UInt16(type))
        let padding = (Int(NLA_ALIGNTO) - valueLength % Int(NLA_ALIGNTO)) % Int(NLA_ALIGNTO)
        patch(UInt32(count - messageStart + valueLength + padding), at: messageStart)
        return padding
    }

    /// Appends one attribute header + value + padding to 4.
    public func appendAttribute(_ type: Int, flags: UInt16 = 0, _ value: UnsafeRawBufferPointer) {
        let length = NetlinkLayout.attributeHeaderSize + value.count
        precondition(length <= Int(UInt16.max), "attribute \(type) of \(value.count) bytes does not fit nla_len")
        put(UInt16(length))
        put(UInt16(type) | flags)
        appendRaw(value)
        pad(to: Int(NLA_ALIGNTO))
    }

    public func appendU32(_ type: Int, _ v: UInt32) {
        put(UInt16(NetlinkLayout.attributeHeaderSize + 4))
        put(UInt16(type))
        put(v)
    }

    /// Appends a u64 attribute. With `padType`, first appends an empty `padType` attribute
    /// when the value would otherwise not be 8-aligned (the kernel's `nla_put_u64_64bit`).
    /// Without it (requests: the kernel's strict policies reject pad attributes), never pads.
    public func appendU64(_ type: Int, _ v: UInt64, padType: Int?) {
        if let padType, (count + NetlinkLayout.attributeHeaderSize) % 8 != 0 {
            put(UInt16(NetlinkLayout.attributeHeaderSize))
            put(UInt16(padType))
        }
        put(UInt16(NetlinkLayout.attributeHeaderSize + 8))
        put(UInt16(type))
        put(v)
    }

    /// Appends a NUL-terminated string attribute (`nla_put_string`).
    public func appendString(_ type: Int, _ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            let length = NetlinkLayout.attributeHeaderSize + utf8.count + 1
            precondition(length <= Int(UInt16.max), "string attribute \(type) too long")
            put(UInt16(length))
            put(UInt16(type))
            appendRaw(UnsafeRawBufferPointer(utf8))
            put(UInt8(0))
            pad(to: Int(NLA_ALIGNTO))
        }
    }

    /// Starts a nest (`nla_nest_start`, with `NLA_F_NESTED`); returns its start offset.
    public func beginNest(_ type: Int) -> Int {
        let start = count
        put(UInt16(0))
        put(UInt16(type) | NetlinkLayout.nestedFlag)
        return start
    }

    /// Ends the nest begun at `start`: sets its length (`nla_nest_end`), then pads to 4
    /// (a no-op unless raw, unaligned bytes were appended inside).
    public func endNest(_ start: Int) {
        let length = count - start
        precondition(length <= Int(UInt16.max), "nest too long")
        patch(UInt16(length), at: start)
        pad(to: Int(NLA_ALIGNTO))
    }
}
