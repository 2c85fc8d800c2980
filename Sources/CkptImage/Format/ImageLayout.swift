/// The on-disk layout of an image, in one place. docs/image-format.md draws it; the
/// numbers here are the only definition in code (every reader and writer uses them).
///
/// ```
/// File    := FileHeader Record* Index Trailer        little-endian, every part 8-aligned
/// Record  := RecordHeader(32) meta pad data pad8 RecordFooter(8)
///            pad: zeros to a multiple of 8, or with the aligned-data flag to the next
///            multiple of 4096 in the file
/// Index   := IndexHeader(8) IndexEntry(32)*           one entry per record, in id order
/// Trailer := 64 bytes, the last of the file
/// ```
public enum ImageLayout {
    /// The version this code writes and the only one it reads.
    public static let formatVersion: UInt32 = 1

    // MARK: File header

    /// "CKPTIMG\0".
    public static let fileMagic: [UInt8] = Array("CKPTIMG".utf8) + [0]
    /// magic(8) version(4) header_len(4) flags(4) header_crc(4); fields follow.
    public static let fileHeaderFixedSize = 24
    /// A header is at most this long (its fields are a few names and numbers).
    public static let fileHeaderMaxSize = 64 * 1024
    enum FileHeaderOffset {
        static let magic = 0, version = 8, length = 12, flags = 16, crc = 20, fields = 24
    }
    /// A header field: tag u32, length u32 (value bytes), value, zero pad to 8.
    static let fieldHeaderSize = 8
    /// Tag bit 31: a reader that does not know the tag must refuse the file. Other unknown
    /// tags are skipped.
    static let fieldCritical: UInt32 = 1 << 31
    enum FieldTag {
        static let crid: UInt32 = 1  // u64
        static let pid: UInt32 = 2  // u32
        static let captureStartNs: UInt32 = 3  // u64, CLOCK_REALTIME ns
        static let host: UInt32 = 4  // UTF-8, no NUL, 1 ... 255 bytes
    }
    static let hostMaxBytes = 255

    // MARK: Records

    /// "CKRH" as bytes: 0x48524B43 read as a little-endian u32.
    public static let recordMagic: UInt32 = 0x4852_4B43
    /// "CKRE".
    public static let recordEndMagic: UInt32 = 0x4552_4B43
    public static let recordHeaderSize = 32
    public static let recordFooterSize = 8
    enum RecordOffset {
        static let magic = 0, type = 4, flags = 6, id = 8, parent = 12, dataLength = 16, metaLength = 24, crc = 28
    }
    /// A `CKPT_A_META` payload fits one netlink attribute (`nla_len` is a u16).
    public static let metaMaxLength = 65535 - 4

    /// Record flag: the record's data starts at a multiple of `dataAlignment` from the start
    /// of the file; the pad after the meta grows to get there. Page data then fills whole
    /// page-cache pages as it is written (a write that starts mid-page costs the kernel a
    /// partial-page update on every fragment: about 40 % more CPU per byte for the C
    /// receiver of tools/bench, docs/benchmarks.md), and whole pages of the image can be
    /// mapped straight into memory.
    public static let recordFlagAlignedData: UInt16 = 1
    /// The only record flags a reader accepts.
    public static let knownRecordFlags: UInt16 = recordFlagAlignedData
    public static let dataAlignment: UInt64 = 4096
    /// The writer sets the aligned-data flag on records with at least this much data whose
    /// pad would be at most `alignedPadShare` of it (`alignsData`).
    public static let alignDataFrom: UInt64 = 64 * 1024
    /// The largest pad, as a share of the data, the writer pays for aligned data: 1/256
    /// (0.4 %), so every record of 1 MiB and more is aligned (a pad is at most 4095 bytes),
    /// and one of 64 KiB-1 MiB only where its pad is that small. Aligning every record from
    /// 64 KiB cost a 1 MiB python3 image 47 KB of pads for 13 such records, 1.2 % of it
    /// (docs/benchmarks.md, session 44); the listener's writes end on 32 KiB boundaries of
    /// the file whatever the records' alignment (`ImageWriter`'s `alignWrites`).
    public static let alignedPadShare: UInt64 = 256

    /// Whether the writer aligns the data of a record with `metaLength` bytes of meta and
    /// `dataLength` of data at file offset `offset`: at least `alignDataFrom` of data, and
    /// the pad that takes at most `dataLength / alignedPadShare`.
    public static func alignsData(metaLength: UInt32, dataLength: UInt64, offset: UInt64) -> Bool {
        guard dataLength >= alignDataFrom, offset <= UInt64.max / 4 else { return false }
        let pad = dataStart(metaLength: metaLength, offset: offset, flags: recordFlagAlignedData)
            - dataStart(metaLength: metaLength, offset: offset, flags: 0)
        return pad <= dataLength / alignedPadShare
    }

    // MARK: Index

    /// "CKIX".
    public static let indexMagic: UInt32 = 0x5849_4B43
    /// magic u32, entry size u32.
    public static let indexHeaderSize = 8
    public static let indexEntrySize = 32
    enum IndexOffset {
        static let id = 0, parent = 4, type = 8, flags = 10, metaLength = 12, offset = 16, dataLength = 24
    }

    // MARK: Trailer

    /// "CKPTEND\0".
    public static let trailerMagic: [UInt8] = Array("CKPTEND".utf8) + [0]
    public static let trailerSize = 64
    enum TrailerOffset {
        static let magic = 0, version = 8, length = 12, indexOffset = 16, indexCount = 24
        static let records = 32, bytes = 40, checksum = 48, indexCRC = 52, fileCRC = 56, crc = 60
    }

    // MARK: Arithmetic

    /// `n` rounded up to a multiple of 8.
    @inline(__always)
    public static func align8(_ n: UInt64) -> UInt64 { (n &+ 7) & ~7 }
    @inline(__always)
    static func align8(_ n: Int) -> Int { (n + 7) & ~7 }

    /// The bytes a record at file offset `offset` occupies, header to footer. Nil when it
    /// does not fit a u64.
    public static func recordSize(metaLength: UInt32, dataLength: UInt64, offset: UInt64, flags: UInt16) -> UInt64? {
        guard dataLength <= UInt64.max / 4, offset <= UInt64.max / 4 else { return nil }
        return dataStart(metaLength: metaLength, offset: offset, flags: flags) + align8(dataLength) + UInt64(recordFooterSize)
    }

    /// Offset of a record's data from its header's first byte (the record is at file offset
    /// `offset`).
    static func dataStart(metaLength: UInt32, offset: UInt64, flags: UInt16) -> UInt64 {
        let packed = UInt64(recordHeaderSize) + align8(UInt64(metaLength))
        guard flags & recordFlagAlignedData != 0 else { return packed }
        let at = offset + packed
        return (at + dataAlignment - 1) / dataAlignment * dataAlignment - offset
    }

    /// The most bytes between a record's header and its data: meta, pad to 8, pad to 4096.
    static let metaAndPadMax = align8(metaMaxLength) + Int(dataAlignment)

    static let zeros = [UInt8](repeating: 0, count: 8)
}

// MARK: Little-endian access

extension UnsafeRawBufferPointer {
    @inline(__always) func le16(_ at: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    @inline(__always) func le32(_ at: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    @inline(__always) func le64(_ at: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    /// True when every byte of `range` is zero.
    func allZero(_ range: Range<Int>) -> Bool {
        for i in range where self[i] != 0 { return false }
        return true
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always) func put16(_ v: UInt16, _ at: Int) { storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt16.self) }
    @inline(__always) func put32(_ v: UInt32, _ at: Int) { storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt32.self) }
    @inline(__always) func put64(_ v: UInt64, _ at: Int) { storeBytes(of: v.littleEndian, toByteOffset: at, as: UInt64.self) }
}

extension Array where Element == UInt8 {
    mutating func append32(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func append64(_ v: UInt64) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func append16(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func padTo8() { while count % 8 != 0 { append(0) } }
}

/// `Array.withUnsafeBytes` keeping a typed `ImageError` (the standard one is `rethrows`).
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ImageError) -> R) throws(ImageError) -> R {
    let result: Result<R, ImageError> = a.withUnsafeBytes { b in
        do throws(ImageError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try result.get()
}
