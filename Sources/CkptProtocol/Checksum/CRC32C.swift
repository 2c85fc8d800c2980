import CCkptShims

/// CRC-32C (Castagnoli), the checksum of streams (`CKPT_A_CHECKSUM`) and of image files.
///
/// Initial value ~0, final xor ~0, as iSCSI and ext4 use it; `CRC32C.checksum(Array("123456789".utf8))`
/// is `0xE3069283`. Updates run on the SSE4.2 instruction when the CPU has it and runs it
/// faster than the portable table (`ckpt_crc32c_update` in CCkptShims times both once),
/// so checksumming does not bound capture speed on hardware or under an emulator.
public struct CRC32C: Sendable, Equatable {
    /// The running register, before the final xor.
    @usableFromInline var register: UInt32 = ~0

    public init() {}

    /// Feeds `bytes`. O(n), no allocation.
    @inlinable
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        register = ckpt_crc32c_update(register, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds a part whose own CRC-32C (`CRC32C.value` of just those bytes) is `crc`, without
    /// reading it again: a byte checksummed once counts in several checksums. O(log length).
    public mutating func append(crc: UInt32, length: Int) {
        register = ~CRC32CCombine.combine(~register, crc, lengthB: UInt64(length))
    }

    /// `append(crc:length:)` with the length's shift operator already made
    /// (`CRC32CCombine.ShiftCache`): one multiplication.
    public mutating func append(crc: UInt32, shift: CRC32CCombine.Shift) {
        register = ~(CRC32CCombine.multiply(shift.operator, ~register) ^ crc)
    }

    /// The checksum of everything fed so far. Feeding may continue afterwards.
    public var value: UInt32 { ~register }

    /// One-shot checksum of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// True when updates use the CPU's crc32 or vpclmulqdq instruction (on hardware that has
    /// them: yes; under qemu's TCG, which runs crc32 4x slower than the table: no).
    public static var isHardwareAccelerated: Bool { ckpt_crc32c_is_hardware() != 0 }

    /// What updates run, as logged: "vpclmulqdq folding", "crc32 instruction" or
    /// "slice-by-8 table" (timed at the first update: `ckpt_crc32c_update`).
    public static var implementation: String { String(cString: ckpt_crc32c_implementation()) }

    /// The portable table implementation alone: the reference for tests.
    public static func portableChecksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { ~ckpt_crc32c_update_portable(~0, $0.baseAddress, $0.count) }
    }
}
