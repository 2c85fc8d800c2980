#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import CkptTestSupport
import Foundation
import SystemPackage
import Testing
@testable import CkptRestore

/// `ckpt replay --pid`'s last step, on this test process itself (its own /proc/PID/pagemap
/// and /proc/PID/mem; no kernel module needed): pages of a mapping the image does not hold
/// but the process wrote are put back to zero; pages the image holds, and pages never
/// touched, are left alone.
@Suite struct AbsentPageResetTests {
    let page = 4096

    /// An image of one anonymous vma [start, start + pages * 4 KiB) with one pages record
    /// for page `held` (its bytes: `heldByte`).
    func image(start: UInt64, pages: Int, held: Int, heldByte: UInt8) throws -> (ImageReader, String) {
        let fixture = try ImageFixture("absent")
        _ = try fixture.record(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12", timeNs: 1)), parent: 0)
        let task = try fixture.record(.task(TaskMeta(pid: 1, tgid: 1, ppid: 0, comm: "t", uid: 0, gid: 0, euid: 0, egid: 0)), parent: 0)
        let mm = try fixture.record(.mm(MMMeta(startCode: 0, endCode: 0, startData: 0, endData: 0, startBrk: 0, brk: 0, startStack: 0,
                                       argStart: 0, argEnd: 0, envStart: 0, envEnd: 0)), parent: task)
        let end = start + UInt64(pages * page)
        let vma = try fixture.record(.vma(VMAMeta(start: start, end: end, vmFlags: 0x3 | 0x70, pgoff: start >> 12)), parent: mm)
        _ = try fixture.record(.pages(PagesMeta(addr: start + UInt64(held * page), nrPages: 1)), parent: vma,
                       data: [UInt8](repeating: heldByte, count: page))
        _ = try fixture.record(.trailer(TrailerMeta(nrThreads: 0, nrVMAs: 1, nrPagesTotal: 1, nrFiles: 0)), parent: 0)
        return try fixture.finish()
    }

    @Test func writtenPagesTheImageLacksGoBackToZero() throws {
        let pages = 8
        let base = try #require(mmap(nil, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        #expect(base != MAP_FAILED)
        defer { munmap(base, pages * page) }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        bytes[0 * page] = 0x11   // held by the image (as the replay wrote it)
        bytes[5 * page] = 0x5a   // written after the checkpoint: not in the image
        bytes[5 * page + 4095] = 0x5b
        let start = UInt64(UInt(bitPattern: base))
        let (reader, path) = try image(start: start, pages: pages, held: 0, heldByte: 0x11)
        defer { unlink(path) }

        let r = try AbsentPageReset(reader: reader, pid: getpid()).run()
        #expect(r.zeroed == 1 && r.fromFile == 0 && r.skipped.isEmpty)
        #expect(bytes[5 * page] == 0 && bytes[5 * page + 4095] == 0)
        #expect(bytes[0] == 0x11, "a page the image holds is the replay's, not reset")

        // Nothing else was touched: a second run finds nothing to do (page 5 is still the
        // process's own copy, now zero; resetting it again writes zero again).
        let again = try AbsentPageReset(reader: reader, pid: getpid()).run()
        #expect(again.zeroed == 1)
    }

    @Test func aMappingLargerThanTheScanLimitIsNamed() throws {
        let pages = 4
        let base = try #require(mmap(nil, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(base, pages * page) }
        let (reader, path) = try image(start: UInt64(UInt(bitPattern: base)), pages: pages, held: 0, heldByte: 1)
        defer { unlink(path) }
        let r = try AbsentPageReset(reader: reader, pid: getpid(), maxScan: 4096).run()
        #expect(r.zeroed == 0 && r.skipped.count == 1 && r.skipped[0].contains("not scanned"))
    }
}
