#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import Foundation
import SystemPackage
import Testing
@testable import CkptImage

/// `ImageWriter(dataChecksums: .sender)`: a fragment's CRC-32C taken from its sender instead
/// of a pass over it. With true checksums the file is byte for byte the single pass's and
/// its deferred check passes; with a false one the image is written as the sender said, and
/// the deferred check (`DeferredDataCheck`) and `verifyImage` both find the record.
@Suite struct SenderChecksumTests {
    private func records() -> [TestRecord] { sampleRecordsWithOddData() }

    /// Writes `records` giving each fragment the checksum `sum` says (nil: none).
    /// The sender's summary is `summary` (default: that of `records`). `behind`: a thread
    /// checks the data behind the writer (off: the deferred check reads it all).
    private func write(_ name: String, _ records: [TestRecord], summary sent: StreamSummary? = nil, behind: Bool = true,
                       sum: (_ record: TestRecord, _ fragment: UnsafeRawBufferPointer, _ offset: Int) -> UInt32?) throws -> ImageWriter {
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }  // the deferred check has a descriptor of its own
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                coalesceBytes: 1 << 20, dataChecksums: .sender, checkBehind: behind)
        for r in records {
            try r.meta.withUnsafeBytes { try w.beginRecord(type: r.type, id: r.id, parent: r.parent, meta: $0, dataLength: UInt64(r.data.count)) }
            try r.data.withUnsafeBytes { d in
                var at = 0
                while at < d.count {
                    let n = min(r.fragment, d.count - at)
                    let f = UnsafeRawBufferPointer(rebasing: d[at..<(at + n)])
                    try w.appendData(f, checksum: sum(r, f, at))
                    at += n
                }
            }
            try w.endRecord()
        }
        try w.finish(summary: sent ?? summary(of: records))
        return w
    }

    private static func crc(_ b: UnsafeRawBufferPointer) -> UInt32 {
        var c = CRC32C()
        c.update(b)
        return c.value
    }

    @Test func trueChecksumsMakeTheSameFile() throws {
        let dir = TempDir(), reference = dir.file("ref.ckpt")
        let records = records()
        try writeImage(reference, records)
        // Every fragment with its checksum, and every other one without (computed here).
        for every in [1, 2] {
            var n = 0
            let name = dir.file("sums-\(every).ckpt")
            let w = try write(name, records) { _, f, _ in
                n += 1
                return n % every == 0 ? Self.crc(f) : nil
            }
            #expect(readFile(name) == readFile(reference), "every \(every)")
            #expect(w.usedSenderChecksums)
            _ = try verifyImage(path: name)
            // The deferred check passes, once, through its own descriptor: the writer's is
            // closed and the file removed before it runs.
            let check = try #require(w.takeDeferredCheck())
            #expect(w.takeDeferredCheck() == nil)
            #expect(check.dataBytes == records.reduce(0) { $0 + UInt64($1.data.count) })
            try FileManager.default.removeItem(atPath: name)
            try check.run()
        }
        // No checksum at all: nothing stood on the sender's word, nothing is left to check.
        let w = try write(dir.file("none.ckpt"), records) { _, _, _ in nil }
        #expect(!w.usedSenderChecksums)
        #expect(w.takeDeferredCheck() == nil)
    }

    /// A stream whose end does not match leaves no check to run: there is no image.
    @Test func aFailedFinishLeavesNoDeferredCheck() throws {
        let dir = TempDir(), name = dir.file("w.ckpt")
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? fd.close() }
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, coalesceBytes: 0, dataChecksums: .sender)
        let data = bytes(4096, seed: 3)
        try [UInt8]().withUnsafeBytes { try w.beginRecord(type: .regs, id: 1, parent: 0, meta: $0, dataLength: 4096) }
        try data.withUnsafeBytes { try w.appendData($0, checksum: Self.crc($0)) }
        try w.endRecord()
        var sent = w.streamSummary
        sent.checksum ^= 1
        let e = imageError { () throws(ImageError) in try w.finish(summary: sent) }
        guard case .summaryMismatch? = e else { Issue.record("\(String(describing: e))"); return }
        #expect(w.usedSenderChecksums)
        #expect(w.takeDeferredCheck() == nil)
    }

    /// A byte changed after the sender checksummed it (in flight, in the listener): the
    /// sender's checksums and summary all agree with each other, so `finish` cannot see it;
    /// the check after publication (`verifyImage`) does, in that record.
    @Test func aByteChangedAfterTheSendersChecksumIsFoundByTheVerifier() throws {
        let dir = TempDir()
        let sent = records()
        var changed = sent
        let i = try #require(changed.firstIndex { $0.id == 13 })
        changed[i].data[70_000] ^= 0x10
        for behind in [true, false] {
            let name = dir.file("changed-\(behind).ckpt")
            let w = try write(name, changed, summary: summary(of: sent), behind: behind) { r, f, offset in
                // The sender's checksum of the bytes it sent, not of those written.
                sent.first { $0.id == r.id }!.data.withUnsafeBytes { Self.crc(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + f.count)])) }
            }
            let check = try #require(w.takeDeferredCheck())
            for e in [imageError { () throws(ImageError) in try check.run() },
                      imageError { () throws(ImageError) in _ = try verifyImage(path: name) }] {
                guard case let .checksumMismatch(_, _, recordID, _, _, _)? = e else { Issue.record("\(String(describing: e))"); return }
                #expect(recordID == 13, "behind \(behind)")
            }
        }
    }
}
