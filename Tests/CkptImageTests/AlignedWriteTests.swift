#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

/// `ImageWriter`'s `alignWrites`: every write but the image's last ends on a block boundary,
/// the bytes past it are copied and kept until a later write, and the file is byte for byte
/// the one written without it.
@Suite struct AlignedWriteTests {
    /// Small fragments (100 bytes), odd data lengths, page-aligned data, and fragments that
    /// do not divide a block.
    private static let records: [TestRecord] =
        sampleRecords(pages: 70_000).map { var r = $0; r.fragment = 100; return r }
    private static let oddRecords = sampleRecordsWithOddData()

    /// A `writev` that records where each call ended (whole writes).
    final class EndsDisk {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> Int {
            var n = 0
            for i in 0..<Int(count) {
                bytes += UnsafeRawBufferPointer(start: iov[i].iov_base, count: iov[i].iov_len)
                n += iov[i].iov_len
            }
            ends.append(bytes.count)
            return n
        }
    }

    @Test(arguments: [4096, 32768], [0, 1 << 20])
    func sameBytesWritesEndOnBlocks(align: Int, coalesce: Int) throws {
        for records in [Self.records, Self.oddRecords] {
            let dir = TempDir(), path = dir.file("ref.ckpt")
            try writeImage(path, records)
            let disk = EndsDisk()
            let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                    coalesceBytes: coalesce, alignWrites: align)
            for r in records {
                try write(r, to: w)
                try w.flush()
                #expect(w.bytesWritten - UInt64(disk.bytes.count) < UInt64(align), "at most a block less a byte kept")
            }
            try w.finish(summary: summary(of: records))
            #expect(disk.bytes == readFile(path))
            #expect(w.bytesWritten == UInt64(disk.bytes.count))
            #expect(disk.ends.dropLast().allSatisfy { $0 % align == 0 }, "\(disk.ends.filter { $0 % align != 0 })")
            #expect(disk.ends.count > 1)
        }
    }

    /// The kept bytes are the writer's own copy: the caller reuses its fragment buffer after
    /// `flush()`, as without alignment, and the file still holds what was appended.
    @Test func fragmentBuffersMayBeReusedAfterFlush() throws {
        let dir = TempDir(), path = dir.file("ref.ckpt")
        let records = Self.oddRecords
        try writeImage(path, records)
        let disk = EndsDisk()
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20, alignWrites: 32768)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { scratch.deallocate() }
        for r in records {
            try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
            var at = 0
            while at < r.data.count {
                let n = min(r.fragment, r.data.count - at)
                r.data.withUnsafeBytes { scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)])) }
                try w.appendData(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                try w.flush()
                scratch.initializeMemory(as: UInt8.self, repeating: 0xEE)  // the caller's next message
                at += n
            }
            try w.endRecord()
        }
        try w.finish(summary: summary(of: records))
        #expect(disk.bytes == readFile(path))
    }

    @Test(arguments: [1, 7, 4099]) func shortWritesAndEINTR(limit: Int) throws {
        let dir = TempDir(), path = dir.file("ref.ckpt")
        let records = Self.oddRecords
        try writeImage(path, records)
        let disk = ShortWriteTests.FakeDisk(limit: limit)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20, alignWrites: 4096)
        for r in records { try write(r, to: w) }
        try w.finish(summary: summary(of: records))
        #expect(disk.bytes == readFile(path))
    }

    /// A stream that fails: `settleCompleteRecords` writes what is kept, so the file holds
    /// every complete record (what `PartialImageScanner` keeps) and nothing is left behind.
    @Test func aFailedStreamWritesWhatIsKept() throws {
        let disk = EndsDisk()
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20, alignWrites: 32768)
        let records = Self.oddRecords
        let cut = try #require(records.firstIndex { $0.id == 14 })
        for r in records[..<cut] { try write(r, to: w) }
        try w.flush()
        #expect(UInt64(disk.bytes.count) < w.bytesWritten, "the records' last bytes are kept, not written")
        try w.settleCompleteRecords()
        #expect(UInt64(disk.bytes.count) == w.bytesWritten)
    }

    /// A write error: the writer fails, counting only what is in the file, and the kept
    /// bytes go with it.
    @Test func aFailedWriteCountsOnlyTheFile() throws {
        let disk = ShortWriteTests.FakeDisk(limit: 1 << 30)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20, alignWrites: 4096)
        try write(Self.oddRecords[0], to: w)
        try write(Self.oddRecords[1], to: w)
        disk.failAt = (call: disk.calls + 1, errno: ENOSPC)
        let big = try #require(Self.oddRecords.first { $0.data.count == 200_003 })
        var thrown: ImageError?
        do {
            try big.meta.withUnsafeBytes { try w.beginRecord(type: big.type, id: big.id, parent: big.parent, meta: $0, dataLength: UInt64(big.data.count)) }
            try big.data.withUnsafeBytes { try w.appendData($0) }
            try w.flush()
        } catch let e as ImageError { thrown = e }
        guard case let .io("write", "fake", offset, .noSpace)? = thrown else { Issue.record("\(String(describing: thrown))"); return }
        #expect(offset == UInt64(disk.bytes.count))
        #expect(w.bytesWritten == UInt64(disk.bytes.count))
        let before = disk.calls
        try w.settleCompleteRecords()  // nothing queued or kept is left to write
        #expect(disk.calls == before)
    }

    /// The read-back checks see a record only once its data is in the file (the kept bytes
    /// are not), and the finished image checks out.
    @Test(arguments: [ImageWriter.DataChecksums.readBack, .sender])
    func readBackChecksReadOnlyWhatIsInTheFile(checksums: ImageWriter.DataChecksums) throws {
        let dir = TempDir(), name = dir.file("w.partial")
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                coalesceBytes: 1 << 20, dataChecksums: checksums, alignWrites: 32768)
        var sawKept = false
        for r in Self.oddRecords {
            try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
            var at = 0
            while at < r.data.count {
                let n = min(r.fragment, r.data.count - at)
                let crc = CRC32C.portableChecksum(Array(r.data[at..<(at + n)]))
                try r.data.withUnsafeBytes { try w.appendData(UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)]), checksum: crc) }
                at += n
            }
            try w.endRecord()
            try w.flush()
            let size = try ImageFileIO.size(fd, path: name)
            #expect(w.handedOffDataEnd <= size, "record data handed to the check past the file's end")
            if size < w.bytesWritten { sawKept = true }
        }
        #expect(sawKept)
        try w.finish(summary: summary(of: Self.oddRecords))
        try w.takeDeferredCheck()?.run()
        _ = try verifyImage(path: name)
    }
}
