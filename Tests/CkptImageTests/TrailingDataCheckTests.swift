#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol
import SystemPackage
import Synchronization
import Testing
@testable import CkptImage

/// `TrailingDataCheck`: the thread that reads records back behind the writer. `finish` must
/// return each span's CRC, read what the thread has not (never waiting for it), and the
/// image must be the single pass's, byte for byte.
@Suite struct TrailingDataCheckTests {
    /// Counts the thread's chunks and notes its scheduling policy; `waitFor` polls (60 s at
    /// most, so a test never hangs: at `SCHED_IDLE` the thread runs last on a busy machine).
    final class Steps: Sendable {
        let count = Mutex(0)
        let policy = Mutex(Int32(-1))
        func step() {
            let p = sched_getscheduler(0)
            policy.withLock { $0 = p }
            count.withLock { $0 += 1 }
        }
        func waitFor(_ n: Int) -> Bool {
            for _ in 0..<60_000 {
                if count.withLock({ $0 }) >= n { return true }
                usleep(1000)
            }
            return false
        }
    }

    @Test func checksEachSpanInSteps() throws {
        let dir = TempDir(), name = dir.file("d")
        let step = Int(TrailingDataCheck.step)
        let data = bytes(step * 2 + step / 2 + 100, seed: 9)
        writeFile(name, data)
        var fd = try FileDescriptor.open(FilePath(name), .readOnly)
        let steps = Steps()
        let made = TrailingDataCheck(fd: fd, path: name, afterStep: { steps.step() })
        let check = try #require(made)
        try fd.close()  // the check reads through its own dup
        let spans = [TrailingDataCheck.Span(offset: 7, length: UInt64(step * 2 + 50)),  // three chunks
                     .init(offset: UInt64(step * 2 + 57), length: 0),  // none
                     .init(offset: UInt64(step * 2 + 57), length: UInt64(step / 2))]  // one
        check.add(spans)
        #expect(steps.waitFor(4))
        #expect(steps.policy.withLock { $0 } == 5, "SCHED_IDLE (5 in <sched.h>)")
        fd = try FileDescriptor.open(FilePath(name), .readOnly)
        defer { try? fd.close() }
        let (crcs, readHere) = try check.finish(fd)
        #expect(readHere == 0)
        try #require(crcs.count == 3)
        for (s, got) in zip(spans, crcs) {
            var want = CRC32C()
            data[Int(s.offset)..<Int(s.offset + s.length)].withUnsafeBytes { want.update($0) }
            #expect(got == want)
        }
    }

    /// No thread to be had: no check (the writer then reads everything at `finish`, as
    /// `CheckAtFinishTests` does without one).
    @Test func noThreadNoCheck() throws {
        let dir = TempDir(), name = dir.file("d")
        writeFile(name, bytes(10, seed: 1))
        let fd = try FileDescriptor.open(FilePath(name), .readOnly)
        defer { try? fd.close() }
        let asked = Mutex(0)
        let check = TrailingDataCheck(fd: fd, path: name, startThread: { _ in asked.withLock { $0 += 1 }; return false })
        #expect(check == nil && asked.withLock { $0 } == 1)
    }

    /// `finish` while the thread is inside a chunk: `finish` reads that chunk itself and does
    /// not wait for the thread.
    @Test func finishDoesNotWaitForTheChunkInFlight() throws {
        let dir = TempDir(), name = dir.file("d")
        let data = bytes(4096, seed: 1)
        writeFile(name, data)
        let fd = try FileDescriptor.open(FilePath(name), .readOnly)
        defer { try? fd.close() }
        let inStep = Mutex(false), release = Mutex(false)
        let made = TrailingDataCheck(fd: fd, path: name, afterStep: {
            inStep.withLock { $0 = true }
            while !release.withLock({ $0 }) { usleep(1000) }
        })
        let check = try #require(made)
        check.add([.init(offset: 0, length: 4096)])
        for _ in 0..<60_000 where !inStep.withLock({ $0 }) { usleep(1000) }
        try #require(inStep.withLock { $0 })
        let (crcs, readHere) = try check.finish(fd)  // returns while the thread is held in its chunk
        release.withLock { $0 = true }
        var want = CRC32C()
        data.withUnsafeBytes { want.update($0) }
        #expect(crcs == [want] && readHere == 4096)
    }

    /// After the thread has read every record, `finish` reads nothing back; the image is the
    /// single pass's, byte for byte.
    @Test func finishReadsNothingTheCheckRead() throws {
        let dir = TempDir(), name = dir.file("w.partial"), reference = dir.file("ref.ckpt")
        let records = Self.records(), steps = Steps()
        let (w, fd) = try writeBehind(name, reference, records, afterStep: { steps.step() })
        defer { try? fd.close() }
        #expect(steps.waitFor(Self.steps(records)), "\(steps.count.withLock { $0 }) of \(Self.steps(records)) steps")
        try w.finish(summary: summary(of: records))
        #expect(w.bytesCheckedAtFinish == 0)
        #expect(readFile(name) == readFile(reference))
        _ = try verifyImage(path: name)
    }

    /// `finish` while the thread is held inside the big record's second chunk: `finish` reads
    /// the third and the second itself (not waiting for the thread), and nothing else.
    @Test func finishContinuesFromTheCheckedPart() throws {
        let dir = TempDir(), name = dir.file("w.partial"), reference = dir.file("ref.ckpt")
        let records = Self.records(), steps = Steps(), release = Mutex(false)
        let hold = Self.steps(records) - 1  // the big record's second chunk (the last but one)
        let (w, fd) = try writeBehind(name, reference, records, afterStep: {
            steps.step()
            if steps.count.withLock({ $0 }) == hold { while !release.withLock({ $0 }) { usleep(1000) } }
        })
        defer { try? fd.close() }
        try #require(steps.waitFor(hold))
        try w.finish(summary: summary(of: records))
        release.withLock { $0 = true }
        let big = UInt64(records.first { $0.data.count > Int(TrailingDataCheck.step) }!.data.count)
        #expect(w.bytesCheckedAtFinish == big - TrailingDataCheck.step)
        #expect(readFile(name) == readFile(reference))
        _ = try verifyImage(path: name)
    }

    /// What the trailing check read is what `finish` settles: a byte changed in the file after
    /// that is not seen there (the stream's checksum matches), but `ckpt verify` finds it in
    /// the record's CRC (as the type's comment says).
    @Test func aByteChangedAfterTheCheckIsFoundByVerify() throws {
        let dir = TempDir(), name = dir.file("w.partial"), reference = dir.file("ref.ckpt")
        let records = Self.records(), steps = Steps()
        let (w, fd) = try writeBehind(name, reference, records, afterStep: { steps.step() })
        defer { try? fd.close() }
        try #require(steps.waitFor(Self.steps(records)))
        let record = try #require(try ImageReader(path: reference).index.first { $0.dataLength == 200_003 })
        let at = Int64(record.dataOffset + 100_000)
        var byte: UInt8 = 0
        _ = try withUnsafeMutableBytes(of: &byte) { try fd.read(fromAbsoluteOffset: at, into: $0) }
        byte ^= 0x40
        _ = try withUnsafeBytes(of: &byte) { try fd.write(toAbsoluteOffset: at, $0) }
        try w.finish(summary: summary(of: records))
        let e = imageError { () throws(ImageError) in try verifyImage(path: name) }
        guard case .checksumMismatch(_, _, 13?, _, _, _)? = e else { Issue.record("\(String(describing: e))"); return }
    }

    /// `sampleRecords` with a 200_003-byte record and one of 2.5 steps before the trailer
    /// record (which has no data, so every record with data is flushed, and handed over,
    /// before the writer is done).
    private static func records() -> [TestRecord] {
        var r = sampleRecords(pages: 20)
        var trailer = r.removeLast()
        let step = Int(TrailingDataCheck.step)
        r.append(TestRecord(type: .regs, id: 13, parent: 2, meta: bytes(24, seed: 20), data: bytes(200_003, seed: 5), fragment: 32768))
        r.append(TestRecord(type: .regs, id: 14, parent: 2, meta: bytes(24, seed: 21), data: bytes(step * 2 + step / 2 + 3, seed: 6),
                            fragment: 65536))
        trailer.id = 15
        r.append(trailer)
        return r
    }

    /// The thread's steps for all of `records`.
    private static func steps(_ records: [TestRecord]) -> Int {
        records.reduce(0) { $0 + ($1.data.count + Int(TrailingDataCheck.step) - 1) / Int(TrailingDataCheck.step) }
    }

    /// Writes `records` (and, with the single pass, `reference`) through a writer with the
    /// trailing check, without coalescing; does not finish.
    private func writeBehind(_ name: String, _ reference: String, _ records: [TestRecord],
                             afterStep: @escaping @Sendable () -> Void) throws -> (ImageWriter, FileDescriptor) {
        try writeImage(reference, records)
        let fd = try FileDescriptor.open(FilePath(name), .readWrite, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let w = try ImageWriter(fd: fd, header: testHeader, path: name, writev: ImageFileIO.systemWritev,
                                dataChecksums: .readBack, afterTrailingStep: afterStep)
        for r in records { try write(r, to: w) }
        return (w, fd)
    }
}
