#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

/// `ImageWriter(dataChecksums: .readBack)`: no pass over the data while it arrives, the
/// records' CRCs read back from the file at `finish`. The file must be byte for byte the one
/// the single-pass writer makes, and a byte that changed in the file after it was written
/// must fail `finish` on the stream's checksum.
@Suite struct CheckAtFinishTests {
    private func records() -> [TestRecord] { sampleRecordsWithOddData() }

    private func openReadWrite(_ path: String) throws -> FileDescriptor {
        try FileDescriptor.open(FilePath(path), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
    }

    @Test func sameBytesAsTheSinglePass() throws {
        let dir = TempDir(), reference = dir.file("ref.ckpt")
        let records = records()
        try writeImage(reference, records)
        for path in ImageWritePath.allCases {
            for coalesce in [0, 1 << 20] {
                let name = dir.file("\(path)-\(coalesce).ckpt")
                let fd = try openReadWrite(name)
                defer { try? fd.close() }
                let w = try ImageWriter(fd: fd, header: testHeader, path: name, coalesceBytes: coalesce, writePath: path,
                                        dataChecksums: .readBack)
                for r in records { try write(r, to: w) }
                try w.finish(summary: summary(of: records))
                #expect(readFile(name) == readFile(reference), "\(path), coalesce \(coalesce)")
                #expect(w.streamSummary == summary(of: records))
                _ = try verifyImage(path: name)
            }
        }
    }

    @Test func aByteChangedInTheFileFailsTheChecksum() throws {
        let dir = TempDir(), name = dir.file("w.partial"), reference = dir.file("ref.ckpt")
        let records = records()
        try writeImage(reference, records)  // the same layout: where the large record's data lies
        let fd = try openReadWrite(name)
        defer { try? fd.close() }
        // No trailing check: every byte is read at `finish`, after the change
        // (TrailingDataCheckTests has the change after the trailing check read it).
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                dataChecksums: .readBack, checkBehind: false)
        for r in records { try write(r, to: w) }
        // One data byte of the large record, changed behind the writer's back.
        let reader = try ImageReader(path: reference)
        let big = try #require(reader.index.first { $0.dataLength == 200_003 })
        let at = Int64(big.dataOffset + 100_000)
        var byte: UInt8 = 0
        _ = try withUnsafeMutableBytes(of: &byte) { try fd.read(fromAbsoluteOffset: at, into: $0) }
        byte ^= 0x40
        _ = try withUnsafeBytes(of: &byte) { try fd.write(toAbsoluteOffset: at, $0) }
        let e = imageError { () throws(ImageError) in try w.finish(summary: summary(of: records)) }
        guard case .summaryMismatch(_, _, "checksum", _, _)? = e else { Issue.record("\(String(describing: e))"); return }
    }

    /// A stream that fails: the records complete so far get their CRCs, so the kept file's
    /// sound part is all of them (as with the single pass); the record cut short is not.
    @Test func aFailedStreamKeepsItsCompleteRecordsWhole() throws {
        let dir = TempDir(), name = dir.file("w.failed")
        let records = records()
        let fd = try openReadWrite(name)
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, coalesceBytes: 1 << 20, dataChecksums: .readBack)
        let cut = try #require(records.firstIndex { $0.id == 15 })
        for r in records[..<cut] { try write(r, to: w) }
        let last = records[cut]
        try last.meta.withUnsafeBytes {
            try w.beginRecord(type: last.type, id: last.id, parent: last.parent, meta: $0, dataLength: UInt64(last.data.count))
        }
        try last.data.withUnsafeBytes { try w.appendData(UnsafeRawBufferPointer(rebasing: $0[0..<1000])) }
        let before = try PartialImageScanner(path: name).scan()
        #expect(before.lastRecordID.map { $0 < 14 } ?? true, "without settling, the footers hold no CRC yet")
        try w.settleCompleteRecords()
        let kept = try PartialImageScanner(path: name).scan()
        #expect(kept.lastRecordID == 14, "\(kept.stop)")
    }

    /// Ranges that start and end off page and window boundaries, mapped and read back.
    @Test func fileRangeChecksumAcrossWindows() throws {
        let dir = TempDir(), name = dir.file("r")
        let data = bytes(FileRangeChecksum.window * 2 + 12_345, seed: 3)
        writeFile(name, data)
        let fd = try FileDescriptor.open(FilePath(name), .readOnly)
        defer { try? fd.close() }
        for (from, count) in [(0, data.count), (1, 4095), (4097, FileRangeChecksum.window), (FileRangeChecksum.window - 3, 10),
                              (12_345, data.count - 12_345), (data.count - 1, 1)] {
            let got = try FileRangeChecksum.crc32c(fd, offset: UInt64(from), length: UInt64(count), path: name)
            var want = CRC32C()
            data[from..<(from + count)].withUnsafeBytes { want.update($0) }
            #expect(got == want.value, "\(from) + \(count)")
        }
    }
}
