#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Foundation
import SystemPackage
import Testing
@testable import CkptImage

/// Not a test: writer throughput against plain `write(2)` of the same fragments to the same
/// kind of file, in the same run. Run with `CKPT_BENCH=1 swift test --filter WriterBenchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CKPT_BENCH"] != nil)) struct WriterBenchmark {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    @Test func pagesRecords() throws {
        let dir = TempDir()
        let fragment = UnsafeMutableRawBufferPointer.allocate(byteCount: 65528, alignment: 8)
        defer { fragment.deallocate() }
        for i in 0..<fragment.count { fragment[i] = UInt8(truncatingIfNeeded: i) }
        let meta = [UInt8](repeating: 1, count: 24)
        let recordData = 16 * 65528, records = 1024  // 1 GiB, 16 fragments per record

        // Plain writes of the same fragments.
        let plainFD = try FileDescriptor.open(FilePath(dir.file("plain")), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        var t0 = Self.now()
        for _ in 0..<(records * 16) { _ = try plainFD.write(UnsafeRawBufferPointer(fragment)) }
        let plain = Self.now() - t0
        try plainFD.close()
        unlink(dir.file("plain"))

        let fd = try FileDescriptor.open(FilePath(dir.file("img")), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let w = try ImageWriter(fd: fd, header: testHeader)
        // A valid tree around the pages: header, task, mm, vma, pages..., trailer.
        let head: [TestRecord] = [
            TestRecord(type: .header, id: 1, parent: 0, meta: headerMeta()), TestRecord(type: .task, id: 2, parent: 0, meta: meta),
            TestRecord(type: .mm, id: 3, parent: 2, meta: meta), TestRecord(type: .vma, id: 4, parent: 3, meta: meta),
        ]
        let last = TestRecord(type: .trailer, id: UInt32(5 + records), parent: 0, meta: meta)
        for r in head { try write(r, to: w) }
        t0 = Self.now()
        for id in 5..<(5 + records) {
            try meta.withUnsafeBytes { try w.beginRecord(type: .pages, id: UInt32(id), parent: 4, meta: $0, dataLength: UInt64(recordData)) }
            for _ in 0..<16 { try w.appendData(UnsafeRawBufferPointer(fragment)) }
            try w.endRecord()
        }
        let image = Self.now() - t0
        try write(last, to: w)
        // The summary the listener computes anyway (not timed above).
        var sum = StreamSummaryBuilder()
        for r in head { r.meta.withUnsafeBytes { sum.beginRecord(meta: $0) } }
        for _ in 0..<records {
            meta.withUnsafeBytes { sum.beginRecord(meta: $0) }
            for _ in 0..<16 { sum.data(UnsafeRawBufferPointer(fragment)) }
        }
        last.meta.withUnsafeBytes { sum.beginRecord(meta: $0) }
        try w.finish(summary: sum.summary)
        try fd.close()
        let gib = Double(records * recordData) / Double(1 << 30)
        print("WriterBenchmark: plain write \(String(format: "%.2f", gib / plain)) GiB/s, ImageWriter \(String(format: "%.2f", gib / image)) GiB/s (CRC hw: \(CRC32C.isHardwareAccelerated))")

        t0 = Self.now()
        _ = try verifyImage(path: dir.file("img"))
        print("WriterBenchmark: verify \(String(format: "%.2f", gib / (Self.now() - t0))) GiB/s")
    }

    @Test func smallRecords() throws {
        let dir = TempDir()
        let fd = try FileDescriptor.open(FilePath(dir.file("small")), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: testHeader)
        let meta = [UInt8](repeating: 1, count: 48)
        let n = 200_000
        let t0 = Self.now()
        for id in 1...n {
            try meta.withUnsafeBytes { try w.beginRecord(type: .vma, id: UInt32(id), parent: 0, meta: $0, dataLength: 0) }
            try w.endRecord()
        }
        let dt = Self.now() - t0
        print("WriterBenchmark: \(n) meta-only records, \(String(format: "%.2f", dt * 1e9 / Double(n))) ns/record")
    }
}
