#if canImport(Glibc)
import Glibc
#endif
import CkptReplay
import CkptSystem
import Foundation
import XCTest

/// `PrivateFileCopies`: which mappings it takes from /proc/PID/maps, and that rewriting a
/// range makes a private file mapping's pages the process's own (anonymous) copies, with
/// their bytes unchanged, as the kernel's restart writer requires (it refuses a page of a
/// private file mapping that is still the file's).
final class PrivateFileCopiesTests: XCTestCase {
    func testRangesArePrivateMappingsWithAnInode() {
        let maps = """
            55d0c0a00000-55d0c0a21000 r--p 00000000 fd:01 1312 /usr/bin/python3.11
            55d0c0a21000-55d0c0b00000 rw-p 00021000 fd:01 1312 /usr/bin/python3.11
            7f0000000000-7f0000100000 rw-p 00000000 00:00 0
            7f0000100000-7f0000200000 rw-s 00000000 00:01 77 /dev/zero (deleted)
            7f0000200000-7f0000201000 rw-s 00000000 fd:01 99 /var/data
            7f0000300000-7f0000301000 rw-p 00000000 00:01 5 /memfd:x (deleted)
            7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
            7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0 [vdso]
            garbage line
            """
        let ranges = PrivateFileCopies.privateFileRanges(ProcessMaps.parse(Array(maps.utf8)))
        XCTAssertEqual(ranges, [0x55d0_c0a0_0000..<0x55d0_c0a2_1000, 0x55d0_c0a2_1000..<0x55d0_c0b0_0000,
                                0x7f00_0030_0000..<0x7f00_0030_1000])
    }

    func testOwnCopiesMakesFilePagesAnonymousAndKeepsTheirBytes() throws {
        let path = NSTemporaryDirectory() + "ckpt-private-file-\(getpid())-\(UUID().uuidString)"
        let bytes = (0..<(3 * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        // Read-only, as RELRO data is: only a forced write copies its pages.
        let map = try XCTUnwrap(mmap(nil, bytes.count, PROT_READ, MAP_PRIVATE, fd, 0))
        XCTAssertNotEqual(map, MAP_FAILED)
        defer { munmap(map, bytes.count) }
        let base = UInt64(UInt(bitPattern: map))
        XCTAssertEqual(map.load(fromByteOffset: 4096, as: UInt8.self), bytes[4096])  // the file's page, mapped
        XCTAssertEqual(anonymousKiB(at: base), 0)

        let copies = try PrivateFileCopies(pid: getpid())
        XCTAssertTrue(copies.ranges.contains { $0.contains(base) }, "the mapping is one of the private file mappings")
        // The middle page only, from inside it to its end.
        XCTAssertEqual(try copies.ownCopies(address: base + 4096 + 100, count: 4096 - 100), 4096 - 100)
        XCTAssertEqual(anonymousKiB(at: base), 4, "the middle page is the process's own copy now")
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: map, count: bytes.count)), bytes)
        // Outside every private file mapping: nothing is rewritten.
        XCTAssertEqual(try copies.ownCopies(address: 0x1000, count: 4096), 0)
        XCTAssertEqual(try copies.ownCopies(address: UInt64.max - 10, count: 4096), 0, "a range past the end")
    }

    /// smaps' "Anonymous:" of the mapping that contains `address`, in KiB.
    private func anonymousKiB(at address: UInt64) -> Int {
        // Read to the end (a /proc file's size says 0).
        let fd = open("/proc/self/smaps", O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while case let n = chunk.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }), n > 0 {
            bytes += chunk[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var inside = false
        for line in text.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line.first?.isHexDigit == true,
               let space = line.firstIndex(of: " "), dash < space,
               let start = UInt64(line[..<dash], radix: 16),
               let end = UInt64(line[line.index(after: dash)..<space], radix: 16) {
                inside = (start..<end).contains(address)
            } else if inside, line.hasPrefix("Anonymous:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])!
            }
        }
        XCTFail("no mapping holds 0x\(String(address, radix: 16))")
        return -1
    }
}
