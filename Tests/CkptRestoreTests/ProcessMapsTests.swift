#if canImport(Glibc)
import Glibc
#endif
@testable import CkptRestore
import CkptSystem
import SystemPackage
import Testing

/// `ProcessMaps`: /proc/PID/maps lines, parsed as bytes, give what the kernel printed; the
/// restorer (`Tracee.maps`), the restart replayer (`PrivateFileCopies`) and the pre-copy's
/// scan (`SoftDirtyScan`) all read maps through it.
@Suite struct ProcessMapsTests {
    private func parse(_ text: String) -> MapsEntry? {
        ProcessMaps.entry(ArraySlice(Array(text.utf8)))
    }

    @Test(arguments: [
        ("55a939d70000-55a93abe9000 r-xp 00001000 00:19 98123                      /usr/bin/python3.11\n",
         0x55a9_39d7_0000, 0x55a9_3abe_9000, true, 98123, "/usr/bin/python3.11"),
        ("7f0c67a82000-7f0c67a84000 rw-p 00000000 00:00 0 \n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, true, 0, ""),
        ("7f0c67a82000-7f0c67a84000 rw-s 00000000 00:01 77\n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, false, 77, ""),
        ("7ffc29a07000-7ffc29a28000 rw-p 00000000 00:00 0                          [stack]\n",
         0x7ffc_29a0_7000, 0x7ffc_29a2_8000, true, 0, "[stack]"),
        ("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
         0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000, true, 0, "[vsyscall]"),
        ("00400000-0041f000 r--p 00000000 fe:01 1234   /tmp/a dir/with  spaces (deleted)\n",
         0x40_0000, 0x41_f000, true, 1234, "/tmp/a dir/with  spaces (deleted)"),
        ("00400000-0041f000 r--p 00000000 fe:01 1234   /no/newline", 0x40_0000, 0x41_f000, true, 1234, "/no/newline"),
        ("7F0C67A82000-7F0C67A84000 rw-p 00000000 00:00 0\n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, true, 0, ""),
        ("00400000-0041f000 r--p 00000000 fe:01 18446744073709551615 /x\n", 0x40_0000, 0x41_f000, true, UInt64.max, "/x"),
    ] as [(String, UInt64, UInt64, Bool, UInt64, String)])
    func linesTheKernelPrints(_ c: (String, UInt64, UInt64, Bool, UInt64, String)) throws {
        let m = try #require(parse(c.0))
        #expect(m.start == c.1)
        #expect(m.end == c.2)
        #expect(m.isPrivate == c.3)
        #expect(m.inode == c.4)
        #expect(m.name == c.5)
    }

    @Test(arguments: [
        "", "\n", "garbage\n", "00400000 r--p 00000000 fe:01 1234 /x\n", "-0041f000 r--p 0 0 0\n",
        "00400000- r--p 0 0 0\n", "00400000-0041f000\n", "00400000-0041f000 r--p 00000000 fe:01\n",
        "0040000g-0041f000 r--p 00000000 fe:01 1 /x\n", "10000000000000000-0041f000 r--p 0 0 0\n",
        "0041f000-00400000 r--p 0 0 0\n", "00400000-00400000 r--p 0 0 0\n", "00400000-0041f000 r-p 0 0 0\n",
        "00400000-0041f000 r--p 0 0 1a\n", "00400000-0041f000 r--p 0 0 -1\n",
        "00400000-0041f000 r--p 0 0 18446744073709551616\n", "+0400000-0041f000 r--p 0 0 0\n",
    ])
    func notALine(_ text: String) {
        #expect(parse(text) == nil, "\(text.debugDescription)")
    }

    /// A path of PATH_MAX bytes makes a line longer than 4 KiB, which a line-sized buffer
    /// would cut in two; the whole text is parsed by lines.
    @Test func aLineLongerThanAPage() throws {
        let path = "/" + String(repeating: "d", count: 4095)
        let text = "00400000-0041f000 r--p 00000000 fe:01 7 \(path)\n7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n"
        let maps = ProcessMaps.parse(Array(text.utf8))
        #expect(maps.count == 2)
        #expect(maps.first?.name == path)
        #expect(maps.last?.range == 0x7f00_0000_0000..<0x7f00_0000_1000)
    }

    /// This process's own maps: read whole, ascending, and a heap buffer lies in one entry.
    @Test func thisProcess() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        #expect(maps.count > 5)
        #expect(zip(maps, maps.dropFirst()).allSatisfy { $0.end <= $1.start })
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        let address = UInt64(UInt(bitPattern: buffer))
        #expect(maps.contains { $0.range.contains(address) && $0.inode == 0 })
        #expect(throws: Errno.noSuchFileOrDirectory) { try ProcessMaps.read(pid: Int32.max) }
    }
}
