import CkptProtocol
import Testing
@testable import CkptImage

/// Records with 64 KiB of data or more carry the aligned-data flag: their data starts at a
/// multiple of 4096 in the file (whole page-cache pages on write, mappable on read).
@Suite struct AlignedDataTests {
    /// sampleRecords with record 7 big enough to be aligned (and not a multiple of 8 long).
    private static let records = sampleRecords(pages: 80_005)

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
            let big = e.dataLength >= ImageLayout.alignDataFrom
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
        var data = [UInt8](repeating: 0, count: 80_005)
        let n = try data.withUnsafeMutableBytes { try reader.readData(of: big, offset: 0, into: $0) }
        #expect(n == 80_005 && data == Self.records[5].data)
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
