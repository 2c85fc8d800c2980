import CkptProtocol
import Testing
@testable import CkptImage

/// Records with 1 MiB of data or more, and those of 64 KiB or more whose pad is at most
/// 1/256 of their data, carry the aligned-data flag: their data starts at a multiple of 4096
/// in the file (whole page-cache pages on write, mappable on read).
@Suite struct AlignedDataTests {
    /// The rule, at every 8-byte offset of a page: from 1 MiB always; from 64 KiB only where
    /// the pad is at most 1/256 of the data; below, never.
    @Test func whichRecordsAreAligned() {
        for offset in stride(from: UInt64(4096 * 7), to: 4096 * 8, by: 8) {
            let pad = ImageLayout.dataStart(metaLength: 24, offset: offset, flags: ImageLayout.recordFlagAlignedData)
                - ImageLayout.dataStart(metaLength: 24, offset: offset, flags: 0)
            #expect(ImageLayout.alignsData(metaLength: 24, dataLength: 1 << 20, offset: offset))
            #expect(ImageLayout.alignsData(metaLength: 24, dataLength: 64 * 1024, offset: offset) == (pad <= 256), "\(offset)")
            #expect(ImageLayout.alignsData(metaLength: 24, dataLength: 512 * 1024, offset: offset) == (pad <= 2048), "\(offset)")
            #expect(!ImageLayout.alignsData(metaLength: 24, dataLength: 64 * 1024 - 1, offset: offset))
        }
    }

    /// Records of 100 KiB written one after another land at many offsets: the writer
    /// aligns exactly those the rule says, and some of each kind.
    @Test func theWriterFollowsTheRule() throws {
        let dir = TempDir(), path = dir.file("mixed.ckpt")
        var records = sampleRecords(pages: 20)
        var trailer = records.removeLast()
        for i in 0..<40 {
            records.append(TestRecord(type: .regs, id: UInt32(20 + i), parent: 2, meta: bytes(8 * (i % 9), seed: UInt8(i)),
                                      data: bytes(100 * 1024 + 40 * i, seed: UInt8(i)), fragment: 32768))
        }
        trailer.id = 100
        records.append(trailer)
        try writeImage(path, records)
        let reader = try ImageReader(path: path)
        var aligned = 0, packed = 0
        for e in reader.index where e.dataLength >= ImageLayout.alignDataFrom {
            let want = ImageLayout.alignsData(metaLength: e.metaLength, dataLength: e.dataLength, offset: e.offset)
            #expect((e.flags == ImageLayout.recordFlagAlignedData) == want, "record \(e.id)")
            if want { aligned += 1; #expect(e.dataOffset % 4096 == 0) } else { packed += 1 }
        }
        #expect(aligned > 0 && packed > 0, "\(aligned) aligned, \(packed) packed")
        _ = try verifyImage(path: path)
    }

    /// sampleRecords with record 7 big enough to be aligned (and not a multiple of 8 long).
    private static let records = sampleRecords(pages: dataLength)
    private static let dataLength = (1 << 20) + 5

    private static func image() throws -> (TempDir, String, [UInt8]) {
        let dir = TempDir(), path = dir.file("aligned.ckpt")
        try writeImage(path, records)
        return (dir, path, readFile(path))
    }

    @Test func bigDataIsPageAlignedSmallDataStaysPacked() throws {
        let (dir, path, file) = try Self.image()
        _ = dir
        let reader = try ImageReader(path: path)
        for e in reader.index {
            let big = ImageLayout.alignsData(metaLength: e.metaLength, dataLength: e.dataLength, offset: e.offset)
            #expect(e.flags == (big ? ImageLayout.recordFlagAlignedData : 0), "record \(e.id)")
            // The header in the file says the same as the index.
            #expect(UInt16(file[Int(e.offset) + 6]) | UInt16(file[Int(e.offset) + 7]) << 8 == e.flags, "record \(e.id)")
            if big {
                #expect(e.dataOffset % 4096 == 0, "record \(e.id) data at \(e.dataOffset)")
                #expect(e.dataOffset - e.metaOffset > UInt64(ImageLayout.align8(Int(e.metaLength))), "the pad grew")
                // The pad is zeros.
                #expect(file[Int(e.metaOffset) + Int(e.metaLength)..<Int(e.dataOffset)].allSatisfy { $0 == 0 })
            } else {
                #expect(e.dataOffset == e.metaOffset + ImageLayout.align8(UInt64(e.metaLength)), "record \(e.id)")
            }
        }
        #expect(reader.index.contains { $0.flags != 0 })
        let big = try #require(reader.entry(id: 7))
        var data = [UInt8](repeating: 0, count: Self.dataLength)
        let n = try data.withUnsafeMutableBytes { try reader.readData(of: big, offset: 0, into: $0) }
        #expect(n == Self.dataLength && data == Self.records[5].data)
        let verified = try verifyImage(path: path)
        #expect(verified.trailer.summary == summary(of: Self.records))
    }

    @Test func aByteInTheAlignmentPadIsRejected() throws {
        let (dir, path, good) = try Self.image()
        _ = dir
        let e = try #require(try ImageReader(path: path).entry(id: 7))
        var bad = good
        bad[Int(e.dataOffset) - 100] = 1
        writeFile(path, bad)
        let error = imageError { () throws(ImageError) in try verifyImage(path: path) }
        // The record CRC covers the pad, so the CRC speaks first; either names record 7.
        #expect(error?.recordID == 7, "\(String(describing: error))")
    }

    @Test func aPartialImageCutInsideThePadEndsAfterThePreviousRecord() throws {
        let (dir, path, good) = try Self.image()
        _ = dir
        let e = try #require(try ImageReader(path: path).entry(id: 7))
        writeFile(path, Array(good[0..<(Int(e.dataOffset) - 10)]))
        let result = try PartialImageScanner(path: path).scan()
        #expect(result.lastRecordID == 6)
        #expect(result.goodBytes == e.offset)
    }
}
