import CkptProtocol
import Testing
@testable import CkptImage

/// Hand-made damage to a good image, each with the specific error it must produce. The
/// CRCs that would otherwise catch the change first are recomputed (`reseal`), so each case
/// reaches the check it is about.
@Suite struct MalformedImageTests {
    /// Offsets in the image made from `smallRecords()`.
    struct Layout {
        var bytes: [UInt8]
        var headerLength: Int
        var record: [UInt32: Int]  // id -> offset
        var index: Int
        var trailer: Int
    }

    static func good() throws -> Layout {
        let dir = TempDir(), path = dir.file("g.ckpt")
        try writeImage(path, smallRecords())
        let r = try ImageReader(path: path)
        var m: [UInt32: Int] = [:]
        for e in r.index { m[e.id] = Int(e.offset) }
        return Layout(bytes: readFile(path), headerLength: Int(r.recordsOffset), record: m,
                      index: Int(r.trailer.indexOffset), trailer: Int(r.fileSize) - 64)
    }

    /// Recomputes every CRC except the ones in `keep` ("header", "record N", "index", "trailer", "file").
    static func reseal(_ l: inout Layout, keep: Set<String> = []) {
        var b = l.bytes
        if !keep.contains("header") { put32(&b, 20, crc(b[0..<20] + b[24..<l.headerLength])) }
        for (id, at) in l.record.sorted(by: { $0.key < $1.key }) where !keep.contains("record \(id)") {
            put32(&b, at + 28, crc(b[at..<(at + 28)]))
            let meta = Int(le32(b, at + 24)), data = Int(le64(b, at + 16))
            let end = at + 32 + (meta + 7) / 8 * 8 + (data + 7) / 8 * 8
            if end + 8 <= b.count { put32(&b, end, crc(b[at..<end])) }
        }
        let t = l.trailer
        if !keep.contains("index") { put32(&b, t + 52, crc(b[l.index..<t])) }
        if !keep.contains("file") { put32(&b, t + 56, crc(b[0..<t])) }
        if !keep.contains("trailer") { put32(&b, t + 60, crc(b[t..<(t + 60)])) }
        l.bytes = b
    }

    typealias Check = @Sendable (ImageError) -> Bool

    static let cases: [(name: String, damage: @Sendable (inout Layout) -> Void, check: Check)] = [
        ("header flags set", { l in put32(&l.bytes, 16, 1); reseal(&l) },
         { if case .badField(_, 16, nil, "file header flags", _, _) = $0 { true } else { false } }),
        ("header length not a multiple of 8", { l in put32(&l.bytes, 12, 84); reseal(&l) },
         { if case .badField(_, 12, nil, "file header length", _, _) = $0 { true } else { false } }),
        ("header CRC", { l in l.bytes[30] ^= 1 },
         { if case .checksumMismatch(_, 0, nil, "file header", _, _) = $0 { true } else { false } }),
        ("pid field of length 8", { l in put32(&l.bytes, 44, 8); reseal(&l) },
         { if case .badField(_, 44, nil, "length of pid", "4", "8") = $0 { true } else { false } }),
        ("critical unknown header field", { l in put32(&l.bytes, 24, 0x8000_0009); reseal(&l) },
         { if case .badField(_, 24, nil, "header field tag", _, _) = $0 { true } else { false } }),
        ("missing crid (unknown non-critical tag instead)", { l in put32(&l.bytes, 24, 9); reseal(&l) },
         { if case .badField(_, 24, nil, "file header fields", _, "missing crid") = $0 { true } else { false } }),
        ("duplicate crid (capture start field retagged)", { l in put32(&l.bytes, 56, 1); reseal(&l) },
         { if case .badField(_, 56, nil, "crid field", "one occurrence", _) = $0 { true } else { false } }),
        ("record magic", { l in l.bytes[l.record[2]!] = 0; reseal(&l) },
         { if case .badMagic(_, _, nil, "record header", _, _) = $0 { true } else { false } }),
        ("record header CRC", { l in l.bytes[l.record[3]! + 12] ^= 1; reseal(&l, keep: ["record 3"]) },
         { if case .checksumMismatch(_, _, nil, "record header", _, _) = $0 { true } else { false } }),
        ("record flags", { l in l.bytes[l.record[3]! + 6] = 2; reseal(&l) },
         { if case .badField(_, _, 3, "record flags", "0 or 1 (aligned data)", "2") = $0 { true } else { false } }),
        // Setting the aligned-data flag moves where the data would start: the record no longer
        // tiles with the next one, whatever the index says.
        ("aligned-data flag on a packed record", { l in l.bytes[l.record[3]! + 6] = 1; reseal(&l) },
         { if case .badField(_, _, 3, _, _, _) = $0 { true } else if case .badMagic(_, _, _, _, _, _) = $0 { true } else { false } }),
        // The index says the last record's data is page-aligned: it would end past the index.
        ("index flags differ from the record", { l in l.bytes[l.index + 8 + 8 * 32 + 10] = 1; reseal(&l) },
         { if case .badField(_, _, 12, "index entry 8 data length", _, _) = $0 { true } else { false } }),
        ("index flags", { l in l.bytes[l.index + 8 + 32 + 10] = 4; reseal(&l) },
         { if case .badField(_, _, 2, "index entry 1 flags", _, "4") = $0 { true } else { false } }),
        ("record type 0", { l in l.bytes[l.record[3]! + 4] = 0; reseal(&l) },
         { if case .badField(_, _, 3, "record type", _, "0") = $0 { true } else { false } }),
        ("record type 99", { l in l.bytes[l.record[3]! + 4] = 99; reseal(&l) },
         { if case .badField(_, _, 3, "record type", _, "99") = $0 { true } else { false } }),
        ("record id 0", { l in put32(&l.bytes, l.record[3]! + 8, 0); reseal(&l) },
         { if case .badField(_, _, nil, "record id", ">= 1", "0") = $0 { true } else { false } }),
        ("meta length above the limit", { l in put32(&l.bytes, l.record[3]! + 24, 70000); reseal(&l) },
         { if case .badField(_, _, 3, "meta length", _, "70000") = $0 { true } else { false } }),
        ("data length past the index", { l in put32(&l.bytes, l.record[7]! + 16, 1 << 20); reseal(&l) },
         { if case .badField(_, _, 7, _, _, _) = $0 { true } else { false } }),
        ("record CRC (data byte)", { l in l.bytes[l.record[7]! + 32 + 24 + 3] ^= 0xFF; reseal(&l, keep: ["record 7"]) },
         { if case .checksumMismatch(_, _, 7, "record 7 (pages)", _, _) = $0 { true } else { false } }),
        ("meta padding not zero", { l in l.bytes[l.record[2]! + 32 + 13] = 1; reseal(&l) },
         { if case .badField(_, _, 2, "meta padding", _, _) = $0 { true } else { false } }),
        ("data padding not zero", { l in l.bytes[l.record[7]! + 32 + 24 + 20] = 1; reseal(&l) },
         { if case .badField(_, _, 7, "data padding", _, _) = $0 { true } else { false } }),
        ("record end magic", { l in l.bytes[l.record[5]! + 36] = 0; reseal(&l) },
         { if case .badMagic(_, _, 5, "record 5 (mm) footer", _, _) = $0 { true } else { false } }),
        ("ids not increasing", { l in put32(&l.bytes, l.record[3]! + 8, 2); put32(&l.bytes, l.index + 8 + 2 * 32, 2); reseal(&l) },
         { if case .nesting(_, _, .idNotIncreasing(2, 2)) = $0 { true } else { false } }),
        ("parent not open", { l in put32(&l.bytes, l.record[3]! + 12, 77); put32(&l.bytes, l.index + 8 + 2 * 32 + 4, 77); reseal(&l) },
         { if case .nesting(_, _, .parentNotOpen(3, 77)) = $0 { true } else { false } }),
        ("index magic", { l in l.bytes[l.index] = 0; reseal(&l) },
         { if case .badMagic(_, _, nil, "index", _, _) = $0 { true } else { false } }),
        ("index entry size", { l in put32(&l.bytes, l.index + 4, 40); reseal(&l) },
         { if case .badField(_, _, nil, "index entry size", "32", "40") = $0 { true } else { false } }),
        ("index CRC", { l in l.bytes[l.index + 9] ^= 1; reseal(&l, keep: ["index"]) },
         { if case .checksumMismatch(_, _, nil, "index", _, _) = $0 { true } else { false } }),
        ("index entry parent differs from the record", { l in put32(&l.bytes, l.index + 8 + 32 + 4, 9); reseal(&l) },
         { if case .indexMismatch(_, _, 2, "parent", 9, 0) = $0 { true } else { false } }),
        ("index entry offset wrong", { l in put32(&l.bytes, l.index + 8 + 32 + 16, 8); reseal(&l) },
         { if case .badField(_, _, 2, "index entry 1 offset", _, _) = $0 { true } else { false } }),
        ("trailer magic", { l in l.bytes[l.trailer + 1] = 0; reseal(&l) },
         { if case .badMagic(_, _, nil, _, _, _) = $0 { true } else { false } }),
        ("trailer CRC", { l in l.bytes[l.trailer + 33] ^= 1; reseal(&l, keep: ["trailer"]) },
         { if case .checksumMismatch(_, _, nil, "trailer", _, _) = $0 { true } else { false } }),
        ("trailer length", { l in put32(&l.bytes, l.trailer + 12, 72); reseal(&l) },
         { if case .badField(_, _, nil, "trailer length", "64", "72") = $0 { true } else { false } }),
        ("index offset not where the index is", { l in put32(&l.bytes, l.trailer + 16, UInt32(l.index - 8)); reseal(&l) },
         { if case .badField(_, _, nil, "index offset and count", _, _) = $0 { true } else { false } }),
        ("index offset huge", { l in put32(&l.bytes, l.trailer + 20, 0xFFFF_FFFF); reseal(&l) },
         { if case .badField(_, _, nil, "index offset and count", _, _) = $0 { true } else { false } }),
        ("index count huge", { l in put32(&l.bytes, l.trailer + 28, 0xFFFF_FFFF); reseal(&l) },
         { if case .badField(_, _, nil, "index offset and count", _, _) = $0 { true } else { false } }),
        ("summary records differ from the index count", { l in l.bytes[l.trailer + 32] += 1; reseal(&l) },
         { if case .summaryMismatch(_, _, "records", _, _) = $0 { true } else { false } }),
        ("summary bytes", { l in l.bytes[l.trailer + 40] ^= 1; reseal(&l) },
         { if case .summaryMismatch(_, _, "bytes", _, _) = $0 { true } else { false } }),
        ("summary checksum", { l in l.bytes[l.trailer + 48] ^= 1; reseal(&l) },
         { if case .summaryMismatch(_, _, "checksum", _, _) = $0 { true } else { false } }),
        ("file CRC", { l in l.bytes[l.trailer + 56] ^= 1; reseal(&l, keep: ["file"]) },
         { if case .checksumMismatch(_, _, nil, let s, _, _) = $0 { s.hasPrefix("file") } else { false } }),
    ]

    @Test(arguments: 0..<cases.count) func rejected(_ i: Int) throws {
        let (name, damage, check) = Self.cases[i]
        var l = try Self.good()
        damage(&l)
        let dir = TempDir(), path = dir.file("bad.ckpt")
        writeFile(path, l.bytes)
        let e = imageError { () throws(ImageError) in try verifyImage(path: path) }
        #expect(e.map(check) == true, "\(name): \(String(describing: e))")
        #expect(e.map { $0.offset < UInt64(l.bytes.count) } == true, "\(name)")
    }
}

@Suite struct HeaderFieldTests {
    /// A header with one extra field, its length and CRC fixed up.
    static func headerWith(extraTag: UInt32) -> [UInt8] {
        var b = testHeader.encoded()
        b += [UInt8](repeating: 0, count: 8)
        put32(&b, b.count - 8, extraTag)
        put32(&b, b.count - 4, 3)
        b += [1, 2, 3, 0, 0, 0, 0, 0]
        put32(&b, 12, UInt32(b.count))
        put32(&b, 20, crc(b[0..<20] + b[24...]))
        return b
    }

    @Test func unknownFieldIsSkippedCriticalOneRefused() throws {
        let dir = TempDir(), path = dir.file("h")
        writeFile(path, Self.headerWith(extraTag: 99))
        let (header, length) = try ImageHeader.read(from: ImageFile(path: path))
        #expect(header == testHeader && Int(length) == Self.headerWith(extraTag: 99).count)
        // A partial file of just that header scans cleanly, with no records.
        let scan = try PartialImageScanner(path: path).scan()
        #expect(scan.stop == .endOfFile && scan.lastRecordID == nil && scan.goodBytes == length)

        writeFile(path, Self.headerWith(extraTag: 99 | 0x8000_0000))
        let e = imageError { () throws(ImageError) in try ImageHeader.read(from: ImageFile(path: path)) }
        guard case .badField(_, _, nil, "header field tag", _, "0x80000063")? = e else { Issue.record("\(String(describing: e))"); return }
    }

    @Test func longHostIsCutAtACharacterBoundary() throws {
        let host = String(repeating: "é", count: 200)  // 400 bytes of UTF-8
        let dir = TempDir(), path = dir.file("h.ckpt")
        try writeImage(path, smallRecords(), header: ImageHeader(crid: 1, pid: 2, captureStartNs: 3, host: host))
        let got = try ImageReader(path: path).header.host
        #expect(got.utf8.count <= 255 && host.hasPrefix(got) && got.count == 127)
    }
}
