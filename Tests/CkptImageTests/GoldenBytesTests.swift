import CkptProtocol
import Foundation
import SystemPackage
import Testing
@testable import CkptImage

/// One tiny image, written out by hand field by field (docs/image-format.md draws the same
/// layout). The CRC fields are literal, and each is re-derived from the bytes it covers with
/// the portable CRC-32C, so a change to either the layout or a CRC's coverage shows here.
@Suite struct GoldenBytesTests {
    static let header = ImageHeader(crid: 7, pid: 42, captureStartNs: 0x0102_0304_0506_0708, host: "h")
    static let meta: [UInt8] = [0xAA, 0xBB, 0xCC]
    static let data: [UInt8] = Array("abcde".utf8)

    static let headerCRC: UInt32 = 0x0B91_26AB
    static let recordHeaderCRC: UInt32 = 0xD031_93C6
    static let recordCRC: UInt32 = 0x1DF0_1DAE
    static let streamCRC: UInt32 = 0x86F1_23F0
    static let indexCRC: UInt32 = 0x1087_E772
    static let fileCRC: UInt32 = 0xA6DC_74D3
    static let trailerCRC: UInt32 = 0xC8B4_2E62

    static func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static var expected: [UInt8] {
        var b: [UInt8] = []
        // ---- file header, 88 bytes -------------------------------------------------
        // @0 magic "CKPTIMG\0"
        b += [0x43, 0x4B, 0x50, 0x54, 0x49, 0x4D, 0x47, 0x00]
        // @8 format version 1; @12 header length 88; @16 flags 0
        b += [1, 0, 0, 0, 88, 0, 0, 0, 0, 0, 0, 0]
        // @20 header CRC-32C over [0, 20) ++ [24, 88)
        b += le(headerCRC)
        // @24 field tag 1 (crid), length 8, value 7
        b += [1, 0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        // @40 field tag 2 (pid), length 4, value 42, 4 bytes of padding to 8
        b += [2, 0, 0, 0, 4, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]
        // @56 field tag 3 (capture start ns), length 8, 0x0102030405060708
        b += [3, 0, 0, 0, 8, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]
        // @72 field tag 4 (host), length 1, "h", 7 bytes of padding
        b += [4, 0, 0, 0, 1, 0, 0, 0, 0x68, 0, 0, 0, 0, 0, 0, 0]
        // ---- record 1 at 88: header 32 + meta 3 (+5 pad) + data 5 (+3 pad) + footer 8 = 56
        // @88 magic "CKRH"; @92 type 1 (header) u16; @94 flags 0 u16
        b += [0x43, 0x4B, 0x52, 0x48, 1, 0, 0, 0]
        // @96 id 1; @100 parent 0
        b += [1, 0, 0, 0, 0, 0, 0, 0]
        // @104 data length 5 (u64)
        b += [5, 0, 0, 0, 0, 0, 0, 0]
        // @112 meta length 3; @116 record header CRC-32C over [88, 116)
        b += [3, 0, 0, 0] + le(recordHeaderCRC)
        // @120 meta, verbatim, and 5 zero bytes of padding
        b += meta + [0, 0, 0, 0, 0]
        // @128 data "abcde" and 3 zero bytes of padding
        b += data + [0, 0, 0]
        // @136 footer: record CRC-32C over [88, 136); end magic "CKRE"
        b += le(recordCRC) + [0x43, 0x4B, 0x52, 0x45]
        // ---- index at 144: header 8 + one entry of 32 ----------------------------------
        // @144 magic "CKIX"; entry size 32
        b += [0x43, 0x4B, 0x49, 0x58, 32, 0, 0, 0]
        // @152 id 1; parent 0; type 1 u16; flags 0 u16; meta length 3
        b += [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0]
        // @168 record offset 88 (u64); data length 5 (u64)
        b += [88, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]
        // ---- trailer at 184, 64 bytes ----------------------------------------------------
        // @184 magic "CKPTEND\0"
        b += [0x43, 0x4B, 0x50, 0x54, 0x45, 0x4E, 0x44, 0x00]
        // @192 version 1; trailer length 64
        b += [1, 0, 0, 0, 64, 0, 0, 0]
        // @200 index offset 144; @208 index count 1
        b += [144, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        // @216 stream records 1; @224 stream bytes 8 (meta 3 + data 5)
        b += [1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]
        // @232 stream checksum: CRC-32C of meta ++ data; @236 index CRC over [144, 184)
        b += le(streamCRC) + le(indexCRC)
        // @240 file CRC over [0, 184); @244 trailer CRC over [184, 244)
        b += le(fileCRC) + le(trailerCRC)
        return b
    }

    @Test func tinyImage() throws {
        let dir = TempDir(), path = dir.file("7.ckpt")
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let w = try ImageWriter(fd: fd, header: Self.header, path: path)
        try Self.meta.withUnsafeBytes { try w.beginRecord(type: .header, id: 1, parent: 0, meta: $0, dataLength: 5) }
        try Self.data.withUnsafeBytes { d in
            try w.appendData(UnsafeRawBufferPointer(rebasing: d[0..<2]))
            try w.appendData(UnsafeRawBufferPointer(rebasing: d[2...]))
        }
        try w.endRecord()
        let sum = StreamSummary(records: 1, bytes: 8, checksum: CRC32C.portableChecksum(Self.meta + Self.data))
        try w.finish(summary: sum)
        try fd.close()
        let got = readFile(path)
        let e = Self.expected
        #expect(got.count == 248 && w.bytesWritten == 248)
        #expect(hex(got) == hex(e))

        // Each literal CRC is the CRC-32C of exactly the bytes the format says it covers.
        #expect(Self.headerCRC == crc(e[0..<20] + e[24..<88]))
        #expect(Self.recordHeaderCRC == crc(e[88..<116]))
        #expect(Self.recordCRC == crc(e[88..<136]))
        #expect(Self.streamCRC == crc(ArraySlice(Self.meta + Self.data)))
        #expect(Self.indexCRC == crc(e[144..<184]))
        #expect(Self.fileCRC == crc(e[0..<184]))
        #expect(Self.trailerCRC == crc(e[184..<244]))

        // And it reads back.
        let r = try ImageReader(path: path)
        #expect(r.header == Self.header)
        #expect(r.index == [ImageIndexEntry(id: 1, parent: 0, type: .header, metaLength: 3, offset: 88, dataLength: 5)])
        #expect(try r.meta(of: r.index[0]) == Self.meta)
    }
}

func hex(_ b: [UInt8]) -> String {
    stride(from: 0, to: b.count, by: 8).map { i in
        "@\(i): " + b[i..<min(i + 8, b.count)].map { String(format: "%02x", $0) }.joined(separator: " ")
    }.joined(separator: "\n")
}
