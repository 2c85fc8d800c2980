#if canImport(Glibc)
import Glibc
#endif
@testable import CkptCLI
import CkptSystem
import Foundation
import XCTest

/// The pre-copy's page scan: pagemap words to written ranges, and the ranges' cap.
final class SoftDirtyScanTests: XCTestCase {
    let dirty: UInt64 = 1 << 55 | 1 << 63
    let clean: UInt64 = 1 << 63

    func testRunsOfSoftDirtyPages() {
        let words: [UInt64] = [clean, dirty, dirty, clean, 0, dirty, 1 << 55 | 1 << 62, clean, dirty]
        XCTAssertEqual(SoftDirtyScan.dirtyRuns(words[...], base: 0x1000),
                       [0x2000..<0x4000, 0x6000..<0x8000, 0x9000..<0xa000])
        XCTAssertEqual(SoftDirtyScan.dirtyRuns([clean, 0][...], base: 0), [])
    }

    func testTouchingRangesJoinAcrossMappings() {
        var ranges: [Range<UInt64>] = []
        SoftDirtyScan.append(0x1000..<0x3000, to: &ranges)
        SoftDirtyScan.append(0x3000..<0x4000, to: &ranges)
        SoftDirtyScan.append(0x5000..<0x6000, to: &ranges)
        XCTAssertEqual(ranges, [0x1000..<0x4000, 0x5000..<0x6000])
    }

    func testCoalesceClosesTheSmallestGapsAndCoversEverything() {
        let ranges: [Range<UInt64>] = [0x1000..<0x2000, 0x3000..<0x4000, 0x10000..<0x11000, 0x11800..<0x12000, 0x40000..<0x41000]
        XCTAssertEqual(SoftDirtyScan.coalesce(ranges, atMost: 5), ranges)
        // Gaps: 0x1000, 0xc000, 0x800, 0x2e000; with 3 ranges the two smallest close.
        XCTAssertEqual(SoftDirtyScan.coalesce(ranges, atMost: 3), [0x1000..<0x4000, 0x10000..<0x12000, 0x40000..<0x41000])
        XCTAssertEqual(SoftDirtyScan.coalesce(ranges, atMost: 1), [0x1000..<0x41000])
        // Every page of the input stays inside some output range.
        let out = SoftDirtyScan.coalesce(ranges, atMost: 2)
        XCTAssertEqual(out.count, 2)
        for r in ranges { XCTAssertTrue(out.contains { $0.lowerBound <= r.lowerBound && r.upperBound <= $0.upperBound }) }
    }

    func testMapsLinesWithoutTheVsyscallPage() {
        let text = """
            55d0c0a00000-55d0c0a02000 r--p 00000000 fe:01 1234   /usr/bin/python3
            7ffd1c2f0000-7ffd1c311000 rw-p 00000000 00:00 0      [stack]
            ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]
            """
        XCTAssertEqual(SoftDirtyScan.mappings(ProcessMaps.parse(Array(text.utf8))), [0x55d0c0a00000..<0x55d0c0a02000, 0x7ffd1c2f0000..<0x7ffd1c311000])
    }

    /// The probe agrees with the running kernel's configuration (the host of these tests has
    /// /proc/config.gz; the guest scenarios test --pre-copy on Debian's kernels, which track).
    func testProbeMatchesTheKernelConfiguration() throws {
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        gunzip.arguments = ["-c", "zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)"]
        let out = Pipe()
        gunzip.standardOutput = out
        try gunzip.run()
        let config = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gunzip.waitUntilExit()
        XCTAssertTrue(config.contains("CONFIG_HAVE_ARCH_SOFT_DIRTY"), "no kernel configuration to compare with")
        let tracks = config.contains("CONFIG_MEM_SOFT_DIRTY=y")
        XCTAssertEqual(try SoftDirtyScan.kernelTracksWrites(), tracks)
    }
}
