@testable import CkptRestore
import Testing

/// `Tracee.mapsLine`: /proc/PID/maps lines, parsed as bytes, give what the kernel printed.
@Suite struct MapsLineTests {
    private func parse(_ text: String) -> (start: UInt64, end: UInt64, name: String)? {
        Tracee.mapsLine(ArraySlice(Array(text.utf8)))
    }

    @Test(arguments: [
        ("55a939d70000-55a93abe9000 r-xp 00001000 00:19 98123                      /usr/bin/python3.11\n",
         0x55a9_39d7_0000, 0x55a9_3abe_9000, "/usr/bin/python3.11"),
        ("7f0c67a82000-7f0c67a84000 rw-p 00000000 00:00 0 \n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, ""),
        ("7f0c67a82000-7f0c67a84000 rw-p 00000000 00:00 0\n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, ""),
        ("7ffc29a07000-7ffc29a28000 rw-p 00000000 00:00 0                          [stack]\n",
         0x7ffc_29a0_7000, 0x7ffc_29a2_8000, "[stack]"),
        ("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
         0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000, "[vsyscall]"),
        ("00400000-0041f000 r--p 00000000 fe:01 1234   /tmp/a dir/with  spaces (deleted)\n",
         0x40_0000, 0x41_f000, "/tmp/a dir/with  spaces (deleted)"),
        ("00400000-0041f000 r--p 00000000 fe:01 1234   /no/newline", 0x40_0000, 0x41_f000, "/no/newline"),
        ("7F0C67A82000-7F0C67A84000 rw-p 00000000 00:00 0\n", 0x7f0c_67a8_2000, 0x7f0c_67a8_4000, ""),
    ] as [(String, UInt64, UInt64, String)])
    func linesTheKernelPrints(_ c: (String, UInt64, UInt64, String)) throws {
        let m = try #require(parse(c.0))
        #expect(m.start == c.1)
        #expect(m.end == c.2)
        #expect(m.name == c.3)
    }

    @Test(arguments: [
        "", "\n", "garbage\n", "00400000 r--p 00000000 fe:01 1234 /x\n", "-0041f000 r--p 0 0 0\n",
        "00400000- r--p 0 0 0\n", "00400000-0041f000\n", "00400000-0041f000 r--p 00000000 fe:01\n",
        "0040000g-0041f000 r--p 00000000 fe:01 1 /x\n", "10000000000000000-0041f000 r--p 0 0 0\n",
    ])
    func notALine(_ text: String) {
        #expect(parse(text) == nil, "\(text.debugDescription)")
    }
}
