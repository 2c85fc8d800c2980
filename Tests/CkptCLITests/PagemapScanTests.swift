#if canImport(Glibc)
import Glibc
#endif
@testable import CkptCLI
import CkptSystem
import XCTest

/// PAGEMAP_SCAN through its wrapper, on this process: the host of these tests has no
/// soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY), so the ranges asked for here are of present
/// pages; the guest scenario `pre-copy-scan` checks the soft-dirty ranges a pre-copy uses.
final class PagemapScanTests: XCTestCase {
    let page = 4096

    /// Whether this kernel has PAGEMAP_SCAN (6.7 and later), from uname's release.
    func kernelHasScan() -> Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return (parts[0], parts[1]) >= (6, 7)
    }

    /// 32 pages, 8 of them touched: their ranges, whatever the batch, joined across calls.
    func testPresentPagesAsRanges() throws {
        let count = 32
        let size = count * page
        let region = try XCTUnwrap(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        XCTAssertNotEqual(region, MAP_FAILED)
        defer { munmap(region, size) }
        // No huge or multi-page folios: a touch must populate exactly its page.
        XCTAssertEqual(madvise(region, size, MADV_NOHUGEPAGE), 0)
        let touched = [0, 1, 2, 5, 9, 10, 11, 31]
        for i in touched { region.storeBytes(of: 7, toByteOffset: i * page, as: UInt8.self) }
        let base = UInt64(UInt(bitPattern: region))
        let expected = [0..<3, 5..<6, 9..<12, 31..<32].map { base + UInt64($0.lowerBound * page)..<base + UInt64($0.upperBound * page) }

        let fd = try Syscall.openAt(AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        defer { _ = Syscall.close(fd) }
        for batch in [1, 2, 3, 1024] {
            let got = try PagemapScan.regions(fd: fd, in: base..<base + UInt64(size), category: PagemapScan.present, batch: batch)
            if kernelHasScan() {
                XCTAssertEqual(got, expected, "batch \(batch)")
            } else {
                XCTAssertNil(got, "batch \(batch): this kernel has no PAGEMAP_SCAN")
            }
        }
        // A range that starts inside a run gets the run from there.
        if kernelHasScan() {
            let from = base + UInt64(page)
            XCTAssertEqual(try PagemapScan.regions(fd: fd, in: from..<base + UInt64(size), category: PagemapScan.present),
                           [from..<expected[0].upperBound] + expected.dropFirst())
        }
    }

    /// A category the kernel does not report is EINVAL, taken as "ask pagemap instead" (as
    /// soft-dirty is before 6.8), not as an error.
    func testUnknownCategoryIsNoAnswer() throws {
        let fd = try Syscall.openAt(AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        defer { _ = Syscall.close(fd) }
        let low: UInt64 = 0x10000
        XCTAssertNil(try PagemapScan.regions(fd: fd, in: low..<low + 0x10000, category: 1 << 30))
    }

    /// A range the kernel does not take as user addresses (above the largest user address)
    /// is EFAULT there: no answer either, never the syscall layer's trap.
    func testARangeTheKernelRefusesIsNoAnswer() throws {
        let fd = try Syscall.openAt(AT_FDCWD, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        defer { _ = Syscall.close(fd) }
        let high: UInt64 = 0xffff_ffff_ff60_0000  // the vsyscall page
        XCTAssertNil(try PagemapScan.regions(fd: fd, in: high..<high + 0x1000, category: PagemapScan.present))
    }
}
