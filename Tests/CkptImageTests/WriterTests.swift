import CkptProtocol
import SystemPackage
import Testing
@testable import CkptImage

@Suite struct WriterTests {
    private func withWriter(_ body: (ImageWriter, String) throws -> Void) throws {
        let dir = TempDir(), path = dir.file("w.partial")
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        try body(try ImageWriter(fd: fd, header: testHeader, path: path), path)
    }

    private func begin(_ w: ImageWriter, _ id: UInt32, data: UInt64 = 0, meta: [UInt8] = [1, 2, 3]) throws(ImageError) {
        let r: Result<Void, ImageError> = meta.withUnsafeBytes { m in
            do throws(ImageError) { return .success(try w.beginRecord(type: .task, id: id, parent: 0, meta: m, dataLength: data)) } catch { return .failure(error) }
        }
        try r.get()
    }

    private func append(_ w: ImageWriter, _ n: Int) throws(ImageError) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: 1)
        defer { p.deallocate() }
        p.initializeMemory(as: UInt8.self, repeating: 7)
        try w.appendData(UnsafeRawBufferPointer(p))
    }

    @Test func idsMustIncrease() throws {
        try withWriter { w, _ in
            try begin(w, 5); try w.endRecord()
            let e = imageError { () throws(ImageError) in try begin(w, 5) }
            guard case .misuse(_, _, 5, "beginRecord", _, "5")? = e else { Issue.record("\(String(describing: e))"); return }
            // The writer is failed from now on.
            let again = imageError { () throws(ImageError) in try begin(w, 6) }
            guard case .misuse(_, _, _, "beginRecord", "a writer that has not failed", _)? = again else { Issue.record("\(String(describing: again))"); return }
        }
        try withWriter { w, _ in
            let e = imageError { () throws(ImageError) in try begin(w, 0) }
            guard case .misuse(_, _, 0, "beginRecord", _, _)? = e else { Issue.record("\(String(describing: e))"); return }
        }
    }

    @Test func dataMustAddUp() throws {
        try withWriter { w, _ in
            try begin(w, 1, data: 10)
            try append(w, 6)
            let e = imageError { () throws(ImageError) in try append(w, 5) }
            guard case .misuse(_, _, 1, "appendData", _, "5")? = e else { Issue.record("\(String(describing: e))"); return }
        }
        try withWriter { w, _ in
            try begin(w, 1, data: 10)
            try append(w, 6)
            let e = imageError { () throws(ImageError) in try w.endRecord() }
            guard case .misuse(_, _, 1, "endRecord", "10 data bytes", "6")? = e else { Issue.record("\(String(describing: e))"); return }
        }
        try withWriter { w, _ in
            let e = imageError { () throws(ImageError) in try append(w, 1) }
            guard case .misuse(_, _, nil, "appendData", "an open record", "no open record")? = e else { Issue.record("\(String(describing: e))"); return }
        }
        try withWriter { w, _ in
            try begin(w, 1, data: 0)
            let e = imageError { () throws(ImageError) in try w.finish(summary: StreamSummary(records: 1, bytes: 3, checksum: 0)) }
            guard case .misuse(_, _, nil, "finish", "no open record", _)? = e else { Issue.record("\(String(describing: e))"); return }
        }
        try withWriter { w, _ in
            let e = imageError { () throws(ImageError) in try begin(w, 1, meta: [UInt8](repeating: 0, count: 65532)) }
            guard case .misuse(_, _, 1, "beginRecord", _, "65532 bytes")? = e else { Issue.record("\(String(describing: e))"); return }
        }
    }

    @Test func summaryMustMatchWhatWasWritten() throws {
        try withWriter { w, path in
            try begin(w, 1, data: 4); try append(w, 4); try w.endRecord()
            var right = StreamSummaryBuilder()
            ([1, 2, 3] as [UInt8]).withUnsafeBytes { right.beginRecord(meta: $0) }
            ([7, 7, 7, 7] as [UInt8]).withUnsafeBytes { right.data($0) }
            var wrong = right.summary
            wrong.checksum ^= 1
            let e = imageError { () throws(ImageError) in try w.finish(summary: wrong) }
            guard case .summaryMismatch(_, _, "checksum", UInt64(wrong.checksum), UInt64(right.summary.checksum))? = e else {
                Issue.record("\(String(describing: e))"); return
            }
            // No trailer was written: the file is not a complete image.
            #expect(imageError { () throws(ImageError) in try ImageReader(path: path) } != nil)
        }
    }

    @Test func bytesWrittenTracksTheFile() throws {
        try withWriter { w, path in
            #expect(w.bytesWritten == UInt64(readFile(path).count))
            try begin(w, 1, data: 20)
            try append(w, 3)
            #expect(w.bytesWritten == UInt64(readFile(path).count))
            try append(w, 17)
            try w.endRecord()
            #expect(w.bytesWritten == UInt64(readFile(path).count))
            #expect(w.recordsWritten == 1)
        }
    }

    /// ENOSPC (/dev/full) and a read-only descriptor become `.io` with the errno and offset.
    @Test func ioErrorsCarryErrno() throws {
        let full = try FileDescriptor.open("/dev/full", .writeOnly)
        defer { try? full.close() }
        let e = imageError { () throws(ImageError) in try ImageWriter(fd: full, header: testHeader) }
        guard case .io("write", "fd \(full.rawValue)", 0, .noSpace)? = e else { Issue.record("\(String(describing: e))"); return }

        let dir = TempDir(), path = dir.file("ro")
        writeFile(path, [])
        let ro = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? ro.close() }
        let e2 = imageError { () throws(ImageError) in try ImageWriter(fd: ro, header: testHeader, path: path) }
        guard case .io("write", path, 0, .badFileDescriptor)? = e2 else { Issue.record("\(String(describing: e2))"); return }
    }

    /// A stream that fails mid-record leaves the complete records before it readable.
    @Test func partialImageScansUpToTheBrokenRecord() throws {
        let dir = TempDir(), path = dir.file("9.failed")
        let records = smallRecords()
        let fd = try FileDescriptor.open(FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let w = try ImageWriter(fd: fd, header: testHeader, path: path)
        for r in records[0..<5] { try write(r, to: w) }
        let boundary = w.bytesWritten
        // Record 7 (pages, 20 bytes) gets 10 of its bytes, then the stream dies.
        try records[5].meta.withUnsafeBytes { try w.beginRecord(type: .pages, id: 7, parent: 6, meta: $0, dataLength: 20) }
        try records[5].data.withUnsafeBytes { try w.appendData(UnsafeRawBufferPointer(rebasing: $0[0..<10])) }
        try fd.close()

        var seen: [UInt32] = []
        let result = try PartialImageScanner(path: path).scan { seen.append($0.entry.id) }
        #expect(seen == [1, 2, 3, 5, 6])
        #expect(result.header == testHeader)
        #expect(result.source?.arch == "x86_64")
        #expect(result.goodBytes == boundary)
        #expect(result.summary == summary(of: Array(records[0..<5])))
        guard case let .damaged(.truncated(_, offset, 7, _, needed, available)) = result.stop else { Issue.record("\(result.stop)"); return }
        #expect(offset == boundary && needed > available)

        // The same file cut right after record 6: a clean end.
        writeFile(path, Array(readFile(path)[0..<Int(boundary)]))
        let clean = try PartialImageScanner(path: path).scan()
        #expect(clean.stop == .endOfFile && clean.lastRecordID == 6)

        // A complete image scans to its index.
        let done = dir.file("9.ckpt")
        try writeImage(done, records)
        let complete = try PartialImageScanner(path: done).scan()
        #expect(complete.stop == .reachedIndex && complete.summary == summary(of: records))
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The writer over a fake `writev` that writes at most a few bytes per call and fails with
/// EINTR now and then: the file must be byte-identical to one written in whole writes.
@Suite struct ShortWriteTests {
    final class FakeDisk {
        var bytes: [UInt8] = []
        var calls = 0
        var limit: Int
        var failAt: (call: Int, errno: Int32)?
        init(limit: Int) { self.limit = limit }

        func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> Int {
            calls += 1
            if let f = failAt, calls == f.call { return -Int(f.errno) }
            if calls % 3 == 0 { return -Int(EINTR) }
            var budget = Int.random(in: 1...limit)
            var done = 0
            for i in 0..<Int(count) where budget > 0 {
                let n = min(budget, iov[i].iov_len)
                bytes += UnsafeRawBufferPointer(start: iov[i].iov_base, count: n)
                budget -= n
                done += n
                if n < iov[i].iov_len { break }
            }
            return done
        }
    }

    @Test(arguments: [1, 3, 7, 64]) func shortWritesAndEINTR(limit: Int) throws {
        let dir = TempDir(), path = dir.file("ref.ckpt")
        let records = smallRecords()
        try writeImage(path, records)
        let disk = FakeDisk(limit: limit)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev)
        for r in records { try write(r, to: w) }
        try w.finish(summary: summary(of: records))
        #expect(disk.bytes == readFile(path))
        #expect(w.bytesWritten == UInt64(disk.bytes.count))
    }

    @Test func errorMidRecordNamesTheOffsetAndFailsTheWriter() throws {
        let disk = FakeDisk(limit: 1 << 20)
        disk.failAt = (call: 8, errno: ENOSPC)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev)
        var thrown: ImageError?
        for r in smallRecords() {
            do { try write(r, to: w) } catch let e as ImageError { thrown = e; break }
        }
        guard case let .io("write", "fake", offset, .noSpace)? = thrown else { Issue.record("\(String(describing: thrown))"); return }
        #expect(offset == UInt64(disk.bytes.count) && offset == w.bytesWritten)
        let again = imageError { () throws(ImageError) in try w.endRecord() }
        guard case .misuse(_, _, _, "endRecord", "a writer that has not failed", _)? = again else { Issue.record("\(String(describing: again))"); return }
    }
}

/// Coalescing: fragments queued and written together give the same file in fewer `writev`
/// calls; every byte is in the file after `flush()`; a failed flush fails the writer.
@Suite struct CoalescingWriterTests {
    /// Many small fragments (100 bytes each) so there is something to coalesce, and one
    /// record big enough to be page-aligned.
    private static let records: [TestRecord] = sampleRecords(pages: 1 << 20).map { var r = $0; r.fragment = 100; return r }

    @Test(arguments: [1, 4096, 128 * 1024]) func sameBytesFewerCalls(coalesceBytes: Int) throws {
        let dir = TempDir(), path = dir.file("ref.ckpt")
        try writeImage(path, Self.records)
        let plain = ShortWriteTests.FakeDisk(limit: 1 << 30)
        let disk = ShortWriteTests.FakeDisk(limit: 1 << 30)
        let p = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: plain.writev)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: coalesceBytes)
        for r in Self.records {
            try write(r, to: p)
            try write(r, to: w)
        }
        try p.finish(summary: summary(of: Self.records))
        try w.finish(summary: summary(of: Self.records))
        #expect(disk.bytes == readFile(path))
        #expect(w.bytesWritten == UInt64(disk.bytes.count))
        if coalesceBytes > 1 { #expect(disk.calls * 4 < plain.calls, "\(disk.calls) writev calls, \(plain.calls) without coalescing") }
    }

    @Test func flushPutsEveryQueuedByteInTheFile() throws {
        let disk = ShortWriteTests.FakeDisk(limit: 1 << 30)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20)
        let header = disk.bytes.count
        try write(Self.records[0], to: w)
        try write(Self.records[1], to: w)
        let big = Self.records[5]
        try big.meta.withUnsafeBytes { try w.beginRecord(type: big.type, id: big.id, parent: big.parent, meta: $0, dataLength: UInt64(big.data.count)) }
        try big.data.withUnsafeBytes { try w.appendData(UnsafeRawBufferPointer(rebasing: $0[0..<5000])) }
        // Records 1 and 2 were flushed when record 7 began; record 7's header and 5000 bytes are queued.
        #expect(UInt64(disk.bytes.count) < w.bytesWritten)
        try w.flush()
        #expect(UInt64(disk.bytes.count) == w.bytesWritten)
        #expect(disk.bytes.count > header)
        // The data sits at its page-aligned offset.
        #expect(Array(disk.bytes[(disk.bytes.count - 5000)...]) == Array(big.data[0..<5000]))
        #expect((disk.bytes.count - 5000) % 4096 == 0)
    }

    @Test func aFailedFlushFailsTheWriterAndCountsOnlyWhatIsOnDisk() throws {
        let disk = ShortWriteTests.FakeDisk(limit: 1 << 30)
        let w = try ImageWriter(fd: FileDescriptor(rawValue: -1), header: testHeader, path: "fake", writev: disk.writev,
                                coalesceBytes: 1 << 20)
        try write(Self.records[0], to: w)  // queued
        #expect(UInt64(disk.bytes.count) < w.bytesWritten)
        disk.failAt = (call: disk.calls + 1, errno: ENOSPC)
        let thrown = imageError { () throws(ImageError) in try w.flush() }
        guard case let .io("write", "fake", offset, .noSpace)? = thrown else { Issue.record("\(String(describing: thrown))"); return }
        #expect(offset == UInt64(disk.bytes.count))
        #expect(w.bytesWritten == UInt64(disk.bytes.count))
        let again = imageError { () throws(ImageError) in try w.finish(summary: summary(of: [Self.records[0]])) }
        guard case .misuse(_, _, _, "finish", "a writer that has not failed", _)? = again else { Issue.record("\(String(describing: again))"); return }
    }
}
