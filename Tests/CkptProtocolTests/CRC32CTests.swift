import Testing
@testable import CkptProtocol

@Suite struct CRC32CTests {
    @Test func knownVector() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.portableChecksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func hardwareEqualsPortableOnManyLengthsAndAlignments() {
        var rng = SystemRandomNumberGenerator()
        let pool = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Around the three-lane thresholds too (3 x 256 and 3 x 8192 bytes), and up to a
        // maximal fragment (65,531 bytes).
        for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 100, 255, 767, 768, 769, 1000, 1543, 4096,
                       8191, 24575, 24576, 24577, 32768, 49152 + 768 + 7, 65531] {
            for alignment in 0..<9 {
                let slice = Array(pool[alignment..<(alignment + length)])
                let fast = pool.withUnsafeBytes { raw -> UInt32 in
                    var c = CRC32C()
                    c.update(UnsafeRawBufferPointer(rebasing: raw[alignment..<(alignment + length)]))
                    return c.value
                }
                #expect(fast == CRC32C.portableChecksum(slice), "length \(length) alignment \(alignment)")
            }
        }
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
