import CkptProtocol

/// What the file header says about the capture. (Where the task ran, its kernel release,
/// arch and page size are in the stream's first record, the `header` record; see
/// `ImageSource`.)
public struct ImageHeader: Equatable, Sendable {
    /// The checkpoint id the kernel gave the stream (unique per boot).
    public var crid: UInt64
    /// The checkpointed task, in the requester's pid namespace.
    public var pid: UInt32
    /// Wall-clock time the listener saw the stream begin, ns since the epoch.
    public var captureStartNs: UInt64
    /// The capturing machine's host name (UTF-8, 1 to 255 bytes).
    public var host: String

    public init(crid: UInt64, pid: UInt32, captureStartNs: UInt64, host: String) {
        self.crid = crid
        self.pid = pid
        self.captureStartNs = captureStartNs
        self.host = host
    }
}

extension ImageHeader {
    /// The file header's bytes (fixed part, fields, CRC). Allocates; called once per image.
    /// A host name longer than 255 bytes is cut at a character boundary; an empty one is
    /// written as "?" (the field is required and never empty).
    func encoded() -> [UInt8] {
        typealias L = ImageLayout
        var b = L.fileMagic
        b.append32(L.formatVersion)
        b.append32(0)  // length, set below
        b.append32(0)  // flags
        b.append32(0)  // crc, set below
        func field(_ tag: UInt32, _ value: [UInt8]) {
            b.append32(tag)
            b.append32(UInt32(value.count))
            b.append(contentsOf: value)
            b.padTo8()
        }
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        field(L.FieldTag.crid, le(crid))
        field(L.FieldTag.pid, le(pid))
        field(L.FieldTag.captureStartNs, le(captureStartNs))
        field(L.FieldTag.host, Self.hostBytes(host))
        let length = UInt32(b.count)
        b.withUnsafeMutableBytes { p in
            p.put32(length, L.FileHeaderOffset.length)
            p.put32(Self.crc(UnsafeRawBufferPointer(p)), L.FileHeaderOffset.crc)
        }
        return b
    }

    static func hostBytes(_ host: String) -> [UInt8] {
        var s = Substring(host)
        while s.utf8.count > ImageLayout.hostMaxBytes { s = s.dropLast() }
        return s.isEmpty ? Array("?".utf8) : Array(s.utf8)
    }

    /// CRC-32C of a header's bytes without its CRC field: [0, 20) ++ [24, length).
    static func crc(_ header: UnsafeRawBufferPointer) -> UInt32 {
        var c = CRC32C()
        c.update(UnsafeRawBufferPointer(rebasing: header[0..<ImageLayout.FileHeaderOffset.crc]))
        c.update(UnsafeRawBufferPointer(rebasing: header[ImageLayout.FileHeaderOffset.fields...]))
        return c.value
    }

    /// Reads and checks the file header at the start of `file`. Returns it and its length
    /// (where the first record starts).
    static func read(from file: ImageFile) throws(ImageError) -> (ImageHeader, UInt64) {
        typealias L = ImageLayout
        typealias O = L.FileHeaderOffset
        let path = file.path
        let fixed = try file.bytes(at: 0, count: L.fileHeaderFixedSize, structure: "file header", recordID: nil)
        let magic = Array(fixed[0..<8])
        guard magic == L.fileMagic else {
            throw .badMagic(
                path: path, offset: 0, recordID: nil, structure: "file header",
                expected: UInt64(le: L.fileMagic), found: UInt64(le: magic))
        }
        let version = fixed.le32(O.version)
        guard version == L.formatVersion else {
            throw .unsupportedVersion(path: path, offset: UInt64(O.version), structure: "file header", found: version, supported: L.formatVersion)
        }
        let length = Int(fixed.le32(O.length))
        guard length >= L.fileHeaderFixedSize, length % 8 == 0, length <= L.fileHeaderMaxSize else {
            throw .badField(
                path: path, offset: UInt64(O.length), recordID: nil, field: "file header length",
                expected: "a multiple of 8 in \(L.fileHeaderFixedSize)...\(L.fileHeaderMaxSize)", found: "\(length)")
        }
        let flags = fixed.le32(O.flags)
        let storedCRC = fixed.le32(O.crc)
        let bytes = try file.bytes(at: 0, count: length, structure: "file header", recordID: nil)
        let computed = crc(bytes)
        guard computed == storedCRC else {
            throw .checksumMismatch(path: path, offset: 0, recordID: nil, structure: "file header", stored: storedCRC, computed: computed)
        }
        guard flags == 0 else {
            throw .badField(path: path, offset: UInt64(O.flags), recordID: nil, field: "file header flags", expected: "0", found: "\(flags)")
        }
        return (try parseFields(bytes, path: path), UInt64(length))
    }

    /// The header's fields: each known tag exactly once, with its exact size; unknown tags
    /// skipped unless critical.
    private static func parseFields(_ b: UnsafeRawBufferPointer, path: String) throws(ImageError) -> ImageHeader {
        typealias L = ImageLayout
        var crid: UInt64?, pid: UInt32?, start: UInt64?, host: String?
        var at = L.FileHeaderOffset.fields
        func bad(_ at: Int, _ field: String, _ expected: String, _ found: String) -> ImageError {
            .badField(path: path, offset: UInt64(at), recordID: nil, field: field, expected: expected, found: found)
        }
        while at < b.count {
            guard b.count - at >= L.fieldHeaderSize else { throw bad(at, "file header field", "an 8-byte field header", "\(b.count - at) bytes") }
            let tag = b.le32(at), length = Int(b.le32(at + 4))
            let value = at + L.fieldHeaderSize
            guard length <= b.count - value, L.align8(value + length) <= b.count else {
                throw bad(at + 4, "length of header field \(tag)", "at most \(b.count - value)", "\(length)")
            }
            guard b.allZero((value + length)..<L.align8(value + length)) else {
                throw bad(value + length, "padding of header field \(tag)", "zero bytes", "non-zero")
            }
            func fixed(_ size: Int, _ name: String) throws(ImageError) {
                guard length == size else { throw bad(at + 4, "length of \(name)", "\(size)", "\(length)") }
            }
            func once(_ seen: Bool, _ name: String) throws(ImageError) {
                if seen { throw bad(at, name, "one occurrence", "a second one") }
            }
            switch tag {
            case L.FieldTag.crid:
                try once(crid != nil, "crid field"); try fixed(8, "crid"); crid = b.le64(value)
            case L.FieldTag.pid:
                try once(pid != nil, "pid field"); try fixed(4, "pid"); pid = b.le32(value)
            case L.FieldTag.captureStartNs:
                try once(start != nil, "capture start field"); try fixed(8, "capture start"); start = b.le64(value)
            case L.FieldTag.host:
                try once(host != nil, "host field")
                guard (1...L.hostMaxBytes).contains(length),
                    let s = String(validating: UnsafeRawBufferPointer(rebasing: b[value..<(value + length)]), as: UTF8.self)
                else { throw bad(value, "host", "1 to \(L.hostMaxBytes) bytes of UTF-8", "\(length) bytes") }
                host = s
            default:
                if tag & L.fieldCritical != 0 {
                    throw bad(at, "header field tag", "a known tag (critical bit set)", "0x" + String(tag, radix: 16))
                }
            }
            at = L.align8(value + length)
        }
        guard let crid, let pid, let start, let host else {
            let missing = [crid == nil ? "crid" : nil, pid == nil ? "pid" : nil, start == nil ? "capture start" : nil, host == nil ? "host" : nil]
            throw bad(L.FileHeaderOffset.fields, "file header fields", "crid, pid, capture start and host", "missing \(missing.compactMap { $0 }.joined(separator: ", "))")
        }
        return ImageHeader(crid: crid, pid: pid, captureStartNs: start, host: host)
    }
}

extension UInt64 {
    /// The first 8 bytes as a little-endian u64 (for magic numbers in errors).
    init(le bytes: [UInt8]) {
        var v: UInt64 = 0
        for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        self = v
    }
}
