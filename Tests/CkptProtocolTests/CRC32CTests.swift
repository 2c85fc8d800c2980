import CCkptShims
import Testing
@testable import CkptProtocol

@Suite struct CRC32CTests {
    @Test func knownVector() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.portableChecksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func hardwareEqualsPortableOnManyLengthsAndAlignments() throws {
        // Every implementation, whichever of them the timed choice runs: the crc32 path and
        // the vpclmulqdq folding (on a CPU without it, the crc32 path again) are each
        // compared with the table on their own, then the chosen one is.
        try #require(ckpt_crc32c_has_instruction() != 0, "this suite runs on x86_64 with SSE4.2")
        var rng = SystemRandomNumberGenerator()
        let pool = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Around the three-lane thresholds too (3 x 256 and 3 x 8192 bytes), the folding's
        // (512 bytes, then each 256, 64 and 16 left), and up to a maximal fragment (65,531).
        for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 100, 255, 511, 512, 513, 527, 528, 575, 576,
                       767, 768, 769, 1000, 1543, 4096, 4096 + 64 + 16 + 3, 8191, 24575, 24576, 24577, 32768,
                       49152 + 768 + 7, 57344, 65531] {
            for alignment in 0..<9 {
                let slice = Array(pool[alignment..<(alignment + length)])
                let fast = pool.withUnsafeBytes { raw -> UInt32 in
                    var c = CRC32C()
                    c.update(UnsafeRawBufferPointer(rebasing: raw[alignment..<(alignment + length)]))
                    return c.value
                }
                #expect(fast == CRC32C.portableChecksum(slice), "length \(length) alignment \(alignment)")
                let hardware = slice.withUnsafeBytes { ~ckpt_crc32c_update_hardware(~0, $0.baseAddress, $0.count) }
                #expect(hardware == CRC32C.portableChecksum(slice), "instruction, length \(length) alignment \(alignment)")
                let folded = slice.withUnsafeBytes { ~ckpt_crc32c_update_fold(~0, $0.baseAddress, $0.count) }
                #expect(folded == CRC32C.portableChecksum(slice), "folding, length \(length) alignment \(alignment)")
            }
        }
    }

    /// The choice is timed, not assumed: on this (native) machine the instruction is far
    /// faster than the table (~28 against ~2 GB/s) and must be the one chosen; under qemu's
    /// TCG the table wins (docs/benchmarks.md, "CRC-32C by measurement").
    @Test func theFasterImplementationIsChosen() {
        #expect(ckpt_crc32c_prefer_hardware(1_000, 9_000) == 1)
        #expect(ckpt_crc32c_prefer_hardware(9_000, 1_000) == 0)
        #expect(ckpt_crc32c_prefer_hardware(5_000, 5_000) == 1)
        #expect(CRC32C.isHardwareAccelerated, "the native host chose the table over its crc32 instruction")
        #expect(CRC32C.implementation != "slice-by-8 table")
    }

    @Test func incrementalEqualsOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var c = CRC32C()
        c.update(Array(bytes[0..<3]))
        c.update(Array(bytes[3..<500]))
        c.update(Array(bytes[500...]))
        #expect(c.value == CRC32C.checksum(bytes))
    }
}
