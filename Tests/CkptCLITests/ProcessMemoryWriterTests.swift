#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import CkptReplay
import Foundation
import XCTest

/// `ckpt restore --memory-by process`: an image's pages written with process_vm_writev (and
/// /proc/PID/mem where a mapping is read-only). The process written is this test's own:
/// the writer's calls treat it like any other pid the caller may ptrace.
final class ProcessMemoryWriterTests: XCTestCase {
    var dir = ""
    let page = 4096
    /// 8 read-write pages and 2 read-only pages of this process, mapped per test.
    var rw: UnsafeMutableRawPointer!
    var ro: UnsafeMutableRawPointer!

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        rw = mmap(nil, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        ro = mmap(nil, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        XCTAssertNotEqual(rw, MAP_FAILED)
        XCTAssertNotEqual(ro, MAP_FAILED)
    }

    override func tearDown() {
        munmap(rw, 8 * page)
        munmap(ro, 2 * page)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func meta(_ m: RecordMeta) -> [UInt8] { m.encodedPayload(padded: true) }
    func address(_ p: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: p)) }
    func pattern(_ pages: Int, _ seed: Int) -> [UInt8] { (0..<(pages * page)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) } }

    /// header, task, mm; vma rw; pages 3 at rw+1, 2 at rw+5; vma ro; 1 page at ro; trailer of
    /// `trailerPages`.
    func records(rwAt: UInt64? = nil, trailerPages: UInt64 = 6) -> [FixtureRecord] {
        let a = address(rw), b = address(ro), p = UInt64(page)
        let mm = MMMeta(startCode: 0, endCode: 0, startData: 0, endData: 0, startBrk: 0, brk: 0, startStack: 0,
                        argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)
        return [
            FixtureRecord(type: .header, id: 1, parent: 0, meta: meta(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 1)))),
            FixtureRecord(type: .task, id: 2, parent: 0, meta: meta(.task(TaskMeta(pid: 42, tgid: 42, ppid: 1, comm: "t", uid: 0, gid: 0, euid: 0, egid: 0)))),
            FixtureRecord(type: .mm, id: 3, parent: 2, meta: meta(.mm(mm))),
            FixtureRecord(type: .vma, id: 4, parent: 3, meta: meta(.vma(VMAMeta(start: a, end: a + 8 * p, vmFlags: 0x3, pgoff: 0)))),
            FixtureRecord(type: .pages, id: 5, parent: 4, meta: meta(.pages(PagesMeta(addr: rwAt ?? a + p, nrPages: 3))), data: pattern(3, 1)),
            FixtureRecord(type: .pages, id: 6, parent: 4, meta: meta(.pages(PagesMeta(addr: a + 5 * p, nrPages: 2))), data: pattern(2, 2)),
            FixtureRecord(type: .vma, id: 7, parent: 3, meta: meta(.vma(VMAMeta(start: b, end: b + 2 * p, vmFlags: 0x1, pgoff: 0)))),
            FixtureRecord(type: .pages, id: 8, parent: 7, meta: meta(.pages(PagesMeta(addr: b, nrPages: 1))), data: pattern(1, 3)),
            FixtureRecord(type: .trailer, id: 9, parent: 0, meta: meta(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 2, nrPagesTotal: trailerPages, nrFiles: 0)))),
        ]
    }

    func image(_ r: [FixtureRecord]) throws -> ImageReader {
        try writeFixtureImage(dir + "/1.ckpt", r, crid: 1)
        return try ImageReader(path: dir + "/1.ckpt")
    }

    /// Xors `mask` into the image file's byte at `offset`.
    func flipByte(at offset: UInt64, mask: UInt8) throws {
        let fd = open(dir + "/1.ckpt", O_RDWR)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var b: UInt8 = 0
        XCTAssertEqual(pread(fd, &b, 1, off_t(offset)), 1)
        b ^= mask
        XCTAssertEqual(pwrite(fd, &b, 1, off_t(offset)), 1)
    }

    func bytes(_ p: UnsafeMutableRawPointer, page n: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: p + n * page, count: count * page))
    }

    func testPagesLandAtTheirAddressesReadOnlyOnesThroughProcMem() throws {
        // Small fragments: several writes per record, so offsets within a record matter.
        let result = try ProcessMemoryWriter(maxData: 5000, pipeDepth: 2)
            .write(try image(records()), pid: getpid(), acceptsPages: { _ in true })
        XCTAssertEqual(bytes(rw, page: 1, count: 3), pattern(3, 1))
        XCTAssertEqual(bytes(rw, page: 5, count: 2), pattern(2, 2))
        for untouched in [0, 4, 7] { XCTAssertEqual(bytes(rw, page: untouched, count: 1), [UInt8](repeating: 0, count: page)) }
        XCTAssertEqual(bytes(ro, page: 0, count: 1), pattern(1, 3), "a read-only mapping is written as a debugger writes it")
        XCTAssertEqual(result.bytes, UInt64(6 * page))
        XCTAssertEqual(result.forcedWrites, 1, "only the read-only page's one fragment needs /proc/PID/mem")
        XCTAssertTrue(result.processVMWrite)
        XCTAssertEqual(result.records, 9)
    }

    func testWithoutProcessVMWriteEveryWriteGoesThroughProcMem() throws {
        // A kernel built without CROSS_MEMORY_ATTACH answers process_vm_writev with ENOSYS
        // (the debug kernel's tiny config does): the same pages land, all through /proc/PID/mem.
        let result = try ProcessMemoryWriter(maxData: 5000, pipeDepth: 2, processVMWrite: false)
            .write(try image(records()), pid: getpid(), acceptsPages: { _ in true })
        XCTAssertEqual(bytes(rw, page: 1, count: 3), pattern(3, 1))
        XCTAssertEqual(bytes(rw, page: 5, count: 2), pattern(2, 2))
        for untouched in [0, 4, 7] { XCTAssertEqual(bytes(rw, page: untouched, count: 1), [UInt8](repeating: 0, count: page)) }
        XCTAssertEqual(bytes(ro, page: 0, count: 1), pattern(1, 3))
        XCTAssertEqual(result.bytes, UInt64(6 * page))
        XCTAssertFalse(result.processVMWrite)
        // 3 pages in 5000-byte fragments: 3 writes; 2 pages: 2; the read-only page: 1.
        XCTAssertEqual(result.forcedWrites, 6, "every fragment through /proc/PID/mem")
    }

    func testSeveralWritersLandEveryByteOnce() throws {
        // 1000-byte fragments over 4 writers: 13 + 9 + 5 fragments taken in whatever order
        // the threads run; the bytes and the counts must not depend on it.
        let result = try ProcessMemoryWriter(maxData: 1000, pipeDepth: 3, writers: 4)
            .write(try image(records()), pid: getpid(), acceptsPages: { _ in true })
        XCTAssertEqual(bytes(rw, page: 1, count: 3), pattern(3, 1))
        XCTAssertEqual(bytes(rw, page: 5, count: 2), pattern(2, 2))
        for untouched in [0, 4, 7] { XCTAssertEqual(bytes(rw, page: untouched, count: 1), [UInt8](repeating: 0, count: page)) }
        XCTAssertEqual(bytes(ro, page: 0, count: 1), pattern(1, 3))
        XCTAssertEqual(result.bytes, UInt64(6 * page), "the writers' counts add up")
        XCTAssertEqual(result.forcedWrites, 5, "the read-only page's 5 fragments, whichever writer took them")
        XCTAssertTrue(result.processVMWrite)
        XCTAssertTrue((1...4).contains(ProcessMemoryWriter.defaultWriters))
        // The probe the restore's progress line uses: this host's kernel has the call (the
        // writes above went through it), so the probe must say so.
        XCTAssertTrue(ProcessMemoryWriter.kernelHasProcessVMWrite)
    }

    func testPagesOutsideTheirVmaAreRefusedBeforeAnyWrite() throws {
        // The first run starts 7 pages in: its 3 pages end past the 8-page vma.
        let r = records(rwAt: address(rw) + 7 * UInt64(page))
        XCTAssertThrowsError(try ProcessMemoryWriter().write(try image(r), pid: getpid(), acceptsPages: { _ in true })) { e in
            guard case let .pagesRefused(id, _, why)? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertEqual(id, 5)
            XCTAssertTrue(why.contains("outside their vma"), why)
        }
        XCTAssertEqual(bytes(rw, page: 0, count: 8), [UInt8](repeating: 0, count: 8 * page))
    }

    func testAVmaTheCallerRefusesGetsNoPages() throws {
        XCTAssertThrowsError(try ProcessMemoryWriter().write(try image(records()), pid: getpid(),
                                                            acceptsPages: { $0.vmFlags & VMFlags.write != 0 })) { e in
            guard case let .pagesRefused(id, _, why)? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertEqual(id, 8)
            XCTAssertTrue(why.contains("does not write"), why)
        }
        XCTAssertEqual(bytes(ro, page: 0, count: 1), [UInt8](repeating: 0, count: page))
    }

    func testATrailerCountingOtherPagesFails() throws {
        XCTAssertThrowsError(try ProcessMemoryWriter().write(try image(records(trailerPages: 7)), pid: getpid(),
                                                            acceptsPages: { _ in true })) { e in
            XCTAssertEqual(e as? ReplayError, .trailerPages(counted: 6, trailer: 7))
        }
    }

    func testADamagedRecordFailsTheWalk() throws {
        let reader = try image(records())
        // One byte of the second run's data flipped in the file.
        let entry = reader.index.first { $0.id == 6 }!
        try flipByte(at: entry.dataOffset + 100, mask: 0x5A)
        XCTAssertThrowsError(try ProcessMemoryWriter().write(try ImageReader(path: dir + "/1.ckpt"), pid: getpid(),
                                                            acceptsPages: { _ in true })) { e in
            guard case .image? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("CRC-32C mismatch"), "\(e)")
        }
    }

    /// The pages records' data is checksummed by the writers, chunk by chunk: with 1-page
    /// chunks and three writers, a byte flipped in the middle chunk of a 3-page record fails
    /// the restore naming that record, and an intact image lands every byte.
    func testDeferredChecksCatchADamagedChunkAndPassAnIntactImage() throws {
        let good = try image(records())
        let result = try ProcessMemoryWriter(maxData: page, writers: 3).write(good, pid: getpid(), acceptsPages: { _ in true })
        XCTAssertEqual(result.bytes, UInt64(6 * page))
        XCTAssertEqual(bytes(rw, page: 1, count: 3), pattern(3, 1))
        memset(rw, 0, 8 * page)
        let entry = good.index.first { $0.id == 5 }!
        try flipByte(at: entry.dataOffset + UInt64(page) + 7, mask: 0x01)
        XCTAssertThrowsError(try ProcessMemoryWriter(maxData: page, writers: 3).write(
            try ImageReader(path: dir + "/1.ckpt"), pid: getpid(), acceptsPages: { _ in true })) { e in
            guard case let .image(.checksumMismatch(_, _, recordID, _, _, _))? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertEqual(recordID, 5)
        }
    }

    /// An image that cannot be mapped (as one in an object store) is read into the pipe's
    /// buffers: its chunks are checksummed from there, and a damaged one is found the same.
    func testDeferredChecksOfAnImageReadIntoBuffers() throws {
        _ = try image(records())
        let unmapped = { try ImageReader(source: LocalImageBytes(path: self.dir + "/1.ckpt", mappable: false)) }
        let result = try ProcessMemoryWriter(maxData: page, writers: 2).write(unmapped(), pid: getpid(), acceptsPages: { _ in true })
        XCTAssertEqual(result.bytes, UInt64(6 * page))
        XCTAssertEqual(bytes(rw, page: 5, count: 2), pattern(2, 2))
        let entry = try unmapped().index.first { $0.id == 6 }!
        try flipByte(at: entry.dataOffset + UInt64(page) + 1, mask: 0x80)
        XCTAssertThrowsError(try ProcessMemoryWriter(maxData: page, writers: 2).write(unmapped(), pid: getpid(), acceptsPages: { _ in true })) { e in
            guard case let .image(.checksumMismatch(_, _, recordID, _, _, _))? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertEqual(recordID, 6)
        }
    }

    /// The walk's deferred check on its own: a pages record whose data is not a multiple of
    /// 8 bytes (its footer CRC covers the data pad's zeros too), its chunks checksummed out of
    /// order, as writer threads would.
    func testAPendingCheckCombinesChunksInAnyOrderAndThePad() throws {
        var r = records()
        r[4].data = Array(pattern(1, 9)[0..<(2 * 1000 + 13)])
        let reader = try image(r)
        var records = reader.records()
        records.deferPagesData(chunk: 1000)
        var pieces: [(PendingRecordCheck, Int, [UInt8])] = []
        while let (entry, _) = try records.next() {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1000, alignment: 8)
            defer { buffer.deallocate() }
            while true {
                let data = try records.nextData(orInto: buffer)
                if data.isEmpty { break }
                let d = try XCTUnwrap(records.lastDeferred, "record \(entry.id): data checked by the walk")
                XCTAssertEqual(entry.type, .pages)
                pieces.append((d.check, d.chunk, Array(data)))
            }
        }
        let first = pieces.filter { $0.0.entry.id == 5 }
        XCTAssertEqual(first.map(\.1), [0, 1, 2])
        XCTAssertEqual(first[0].0.entry.dataLength % 8, 5)
        for (check, chunk, data) in pieces.reversed() { data.withUnsafeBytes { check.checksum(chunk: chunk, $0) } }
        for check in Set(pieces.map { ObjectIdentifier($0.0) }).compactMap({ id in pieces.first { ObjectIdentifier($0.0) == id }?.0 }) {
            XCTAssertNoThrow(try check.verify())
        }
        var wrong = first[1].2
        wrong[0] ^= 1
        wrong.withUnsafeBytes { first[1].0.checksum(chunk: 1, $0) }
        XCTAssertThrowsError(try first[1].0.verify())
    }

    func testAnUnwritableAddressNamesTheCall() throws {
        // The vma record says 8 pages, but the last 4 are unmapped in this process.
        munmap(rw + 4 * page, 4 * page)
        XCTAssertThrowsError(try ProcessMemoryWriter().write(try image(records()), pid: getpid(), acceptsPages: { _ in true })) { e in
            guard case let .memory(call, address, errno)? = e as? ReplayError else { return XCTFail("\(e)") }
            XCTAssertTrue(call.contains("/mem"), call)
            XCTAssertEqual(address, self.address(rw) + 5 * UInt64(page))
            XCTAssertEqual(errno, .ioError)
        }
        rw = mmap(rw + 0, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
    }
}
