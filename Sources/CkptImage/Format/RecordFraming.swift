import CkptProtocol

/// A record's fixed header (32 bytes), as stored:
///
/// ```
///  0  u32 magic "CKRH"     4  u16 type   6  u16 flags (0 or 1: aligned data)
///  8  u32 id              12  u32 parent (0 = root)
/// 16  u64 data length     24  u32 meta length   28  u32 CRC-32C of bytes 0..<28
/// ```
public struct ImageRecordHeader: Equatable, Sendable {
    public var type: RecordType
    public var id: UInt32
    public var parent: UInt32
    public var metaLength: UInt32
    public var dataLength: UInt64
    /// `ImageLayout.recordFlagAlignedData` or 0.
    public var flags: UInt16

    public init(type: RecordType, id: UInt32, parent: UInt32, metaLength: UInt32, dataLength: UInt64, flags: UInt16 = 0) {
        self.type = type
        self.id = id
        self.parent = parent
        self.metaLength = metaLength
        self.dataLength = dataLength
        self.flags = flags
    }

    /// Writes the 32 header bytes at the start of `p`.
    func encode(into p: UnsafeMutableRawBufferPointer) {
        typealias O = ImageLayout.RecordOffset
        p.put32(ImageLayout.recordMagic, O.magic)
        p.put16(UInt16(type.rawValue), O.type)
        p.put16(flags, O.flags)
        p.put32(id, O.id)
        p.put32(parent, O.parent)
        p.put64(dataLength, O.dataLength)
        p.put32(metaLength, O.metaLength)
        p.put32(Self.crc(UnsafeRawBufferPointer(p)), O.crc)
    }

    static func crc(_ header: UnsafeRawBufferPointer) -> UInt32 {
        var c = CRC32C()
        c.update(UnsafeRawBufferPointer(rebasing: header[0..<ImageLayout.RecordOffset.crc]))
        return c.value
    }

    /// Decodes and checks the 32 bytes at `offset` (magic, header CRC, flags, type, meta
    /// length, that the record's size fits a u64).
    static func decode(_ b: UnsafeRawBufferPointer, offset: UInt64, path: String) throws(ImageError) -> ImageRecordHeader {
        typealias O = ImageLayout.RecordOffset
        let magic = b.le32(O.magic)
        guard magic == ImageLayout.recordMagic else {
            throw .badMagic(path: path, offset: offset, recordID: nil, structure: "record header",
                            expected: UInt64(ImageLayout.recordMagic), found: UInt64(magic))
        }
        let stored = b.le32(O.crc), computed = crc(b)
        guard stored == computed else {
            throw .checksumMismatch(path: path, offset: offset, recordID: nil, structure: "record header", stored: stored, computed: computed)
        }
        let id = b.le32(O.id)
        let flags = b.le16(O.flags)
        guard flags & ~ImageLayout.knownRecordFlags == 0 else {
            throw .badField(path: path, offset: offset + UInt64(O.flags), recordID: id, field: "record flags",
                            expected: "0 or \(ImageLayout.recordFlagAlignedData) (aligned data)", found: "\(flags)")
        }
        let rawType = b.le16(O.type)
        guard let type = RecordType(rawValue: UInt32(rawType)) else {
            throw .badField(path: path, offset: offset + UInt64(O.type), recordID: id, field: "record type",
                            expected: "a known record type (\(RecordType.allCases.map { "\($0.rawValue)" }.joined(separator: ",")))",
                            found: "\(rawType)")
        }
        guard id != 0 else {
            throw .badField(path: path, offset: offset + UInt64(O.id), recordID: nil, field: "record id", expected: ">= 1", found: "0")
        }
        let metaLength = b.le32(O.metaLength)
        guard metaLength <= ImageLayout.metaMaxLength else {
            throw .badField(path: path, offset: offset + UInt64(O.metaLength), recordID: id, field: "meta length",
                            expected: "at most \(ImageLayout.metaMaxLength)", found: "\(metaLength)")
        }
        let dataLength = b.le64(O.dataLength)
        guard ImageLayout.recordSize(metaLength: metaLength, dataLength: dataLength, offset: offset, flags: flags) != nil else {
            throw .badField(path: path, offset: offset + UInt64(O.dataLength), recordID: id, field: "data length",
                            expected: "a length that fits the file", found: "\(dataLength)")
        }
        return ImageRecordHeader(type: type, id: id, parent: b.le32(O.parent), metaLength: metaLength, dataLength: dataLength,
                                 flags: flags)
    }
}

/// One record's entry in the index: where it is and what it is, without reading it.
///
/// ```
///  0 u32 id        4 u32 parent     8 u16 type   10 u16 flags (the header's)   12 u32 meta length
/// 16 u64 offset of the record header              24 u64 data length
/// ```
public struct ImageIndexEntry: Equatable, Sendable {
    public var id: UInt32
    public var parent: UInt32
    public var type: RecordType
    public var metaLength: UInt32
    /// File offset of the record's header.
    public var offset: UInt64
    public var dataLength: UInt64
    /// The record header's flags (`ImageLayout.recordFlagAlignedData` or 0).
    public var flags: UInt16

    public init(id: UInt32, parent: UInt32, type: RecordType, metaLength: UInt32, offset: UInt64, dataLength: UInt64,
                flags: UInt16 = 0) {
        self.id = id
        self.parent = parent
        self.type = type
        self.metaLength = metaLength
        self.offset = offset
        self.dataLength = dataLength
        self.flags = flags
    }

    init(_ h: ImageRecordHeader, offset: UInt64) {
        self.init(id: h.id, parent: h.parent, type: h.type, metaLength: h.metaLength, offset: offset, dataLength: h.dataLength,
                  flags: h.flags)
    }

    /// File offset of the record's first meta byte.
    public var metaOffset: UInt64 { offset + UInt64(ImageLayout.recordHeaderSize) }
    /// File offset of the record's first data byte (a multiple of 4096 with aligned data).
    public var dataOffset: UInt64 { offset + ImageLayout.dataStart(metaLength: metaLength, offset: offset, flags: flags) }
    /// Header to footer, padding included.
    public var recordSize: UInt64 { ImageLayout.recordSize(metaLength: metaLength, dataLength: dataLength, offset: offset, flags: flags)! }

    func encode(into p: UnsafeMutableRawBufferPointer) {
        typealias O = ImageLayout.IndexOffset
        p.put32(id, O.id)
        p.put32(parent, O.parent)
        p.put16(UInt16(type.rawValue), O.type)
        p.put16(flags, O.flags)
        p.put32(metaLength, O.metaLength)
        p.put64(offset, O.offset)
        p.put64(dataLength, O.dataLength)
    }
}

/// The last 64 bytes of a complete image.
///
/// ```
///  0 u8[8] "CKPTEND\0"   8 u32 version    12 u32 trailer length (64)
/// 16 u64 index offset   24 u64 index entry count
/// 32 u64 stream records 40 u64 stream bytes   48 u32 stream checksum
/// 52 u32 CRC-32C of the index (index offset ..< trailer)
/// 56 u32 CRC-32C of the file before the trailer  60 u32 CRC-32C of trailer bytes 0..<60
/// ```
public struct ImageTrailer: Equatable, Sendable {
    /// File offset of the index (its "CKIX" header); the records end here.
    public var indexOffset: UInt64
    public var indexCount: UInt64
    /// The stream's totals as the sender stated them (and the writer checked).
    public var summary: StreamSummary
    public var indexCRC: UInt32
    public var fileCRC: UInt32

    public init(indexOffset: UInt64, indexCount: UInt64, summary: StreamSummary, indexCRC: UInt32, fileCRC: UInt32) {
        self.indexOffset = indexOffset
        self.indexCount = indexCount
        self.summary = summary
        self.indexCRC = indexCRC
        self.fileCRC = fileCRC
    }

    func encode(into p: UnsafeMutableRawBufferPointer) {
        typealias O = ImageLayout.TrailerOffset
        p.copyBytes(from: ImageLayout.trailerMagic)
        p.put32(ImageLayout.formatVersion, O.version)
        p.put32(UInt32(ImageLayout.trailerSize), O.length)
        p.put64(indexOffset, O.indexOffset)
        p.put64(indexCount, O.indexCount)
        p.put64(summary.records, O.records)
        p.put64(summary.bytes, O.bytes)
        p.put32(summary.checksum, O.checksum)
        p.put32(indexCRC, O.indexCRC)
        p.put32(fileCRC, O.fileCRC)
        p.put32(Self.crc(UnsafeRawBufferPointer(p)), O.crc)
    }

    static func crc(_ t: UnsafeRawBufferPointer) -> UInt32 {
        var c = CRC32C()
        c.update(UnsafeRawBufferPointer(rebasing: t[0..<ImageLayout.TrailerOffset.crc]))
        return c.value
    }

    /// Reads and checks the trailer (the file's last 64 bytes) and that the index it points
    /// to fits between `recordsStart` and the trailer. A file without a valid trailer is
    /// not a complete image.
    static func read(from file: ImageFile, recordsStart: UInt64) throws(ImageError) -> ImageTrailer {
        typealias L = ImageLayout
        typealias O = L.TrailerOffset
        let path = file.path
        let size = UInt64(L.trailerSize)
        guard file.size >= recordsStart + size + UInt64(L.indexHeaderSize) else {
            throw .truncated(path: path, offset: recordsStart, recordID: nil, structure: "records, index and trailer (a complete image)",
                             needed: UInt64(L.indexHeaderSize) + size, available: file.size - min(file.size, recordsStart))
        }
        let at = file.size - size
        let t = try file.bytes(at: at, count: L.trailerSize, structure: "trailer", recordID: nil)
        let magic = Array(t[0..<8])
        guard magic == L.trailerMagic else {
            throw .badMagic(path: path, offset: at, recordID: nil, structure: "trailer (the image is not complete)",
                            expected: UInt64(le: L.trailerMagic), found: UInt64(le: magic))
        }
        let stored = t.le32(O.crc), computed = crc(t)
        guard stored == computed else {
            throw .checksumMismatch(path: path, offset: at, recordID: nil, structure: "trailer", stored: stored, computed: computed)
        }
        let version = t.le32(O.version)
        guard version == L.formatVersion else {
            throw .unsupportedVersion(path: path, offset: at + UInt64(O.version), structure: "trailer", found: version, supported: L.formatVersion)
        }
        let length = t.le32(O.length)
        guard length == UInt32(L.trailerSize) else {
            throw .badField(path: path, offset: at + UInt64(O.length), recordID: nil, field: "trailer length", expected: "\(L.trailerSize)", found: "\(length)")
        }
        let trailer = ImageTrailer(
            indexOffset: t.le64(O.indexOffset), indexCount: t.le64(O.indexCount),
            summary: StreamSummary(records: t.le64(O.records), bytes: t.le64(O.bytes), checksum: t.le32(O.checksum)),
            indexCRC: t.le32(O.indexCRC), fileCRC: t.le32(O.fileCRC))
        // The index runs from its offset exactly to the trailer.
        // (Compared without overflow: the values come from the file.)
        guard trailer.indexOffset >= recordsStart,
            trailer.indexOffset <= at - UInt64(L.indexHeaderSize),
            trailer.indexOffset % 8 == 0,
            trailer.indexCount <= (at - UInt64(L.indexHeaderSize) - trailer.indexOffset) / UInt64(L.indexEntrySize),
            UInt64(L.indexHeaderSize) + trailer.indexCount * UInt64(L.indexEntrySize) == at - trailer.indexOffset
        else {
            throw .badField(path: path, offset: at + UInt64(O.indexOffset), recordID: nil, field: "index offset and count",
                            expected: "an index of \(L.indexHeaderSize) + count * \(L.indexEntrySize) bytes ending at the trailer (offset \(at))",
                            found: "offset \(trailer.indexOffset), count \(trailer.indexCount)")
        }
        guard trailer.indexCount == trailer.summary.records else {
            throw .summaryMismatch(path: path, offset: at, field: "records", expected: trailer.summary.records, found: trailer.indexCount)
        }
        return trailer
    }
}
