#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import Testing
@testable import CkptProtocol

/// Benchmark, not a test: decode throughput of 32 KiB record messages against a plain
/// memcpy of the same bytes, in the same run. Skipped unless CKPT_BENCH is set:
///
///     CKPT_BENCH=1 swift test -c release -Xswiftc -enable-testing \
///         --scratch-path .build-bench --filter DecodeBenchmark
@Suite(.serialized, .enabled(if: getenv("CKPT_BENCH") != nil)) struct DecodeBenchmark {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        try body()
        clock_gettime(CLOCK_MONOTONIC, &t1)
        return Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
    }

    @Test func decode32KiBMessagesVersusMemcpy() throws {
        let messageData = 32 * 1024
        let perDatagram = 1  // as the kernel sends them: one message per datagram
        let meta = metaBytes(.pages(PagesMeta(addr: 0x1000, nrPages: 8)))
        let data = [UInt8](repeating: 0x5a, count: messageData)
        let datagram = MessageBuffer()
        try meta.withUnsafeBytes { m in
            try data.withUnsafeBytes { d in
                for i in 0..<perDatagram {
                    MessageEncoder.usersock.record(RecordFragment(
                        crid: 1, seq: UInt32(i), type: .pages, id: 2, parent: 1, dataLength: UInt64(messageData),
                        dataOffset: 0, meta: m, data: d), into: datagram)
                }
                let bytes = datagram.bytes
                let target = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
                defer { target.deallocate() }
                let rounds = 200_000
                var sink: UInt64 = 0
                var decodeRuns: [Double] = [], copyRuns: [Double] = [], crcRuns: [Double] = []
                for _ in 0..<5 {  // interleaved, medians
                    decodeRuns.append(try Self.seconds {
                        for _ in 0..<rounds {
                            try StreamDecoder().decode(datagram: bytes, expectedType: usersockType) { e in
                                if case let .record(f) = e { sink &+= UInt64(f.data.count) }
                            }
                        }
                    })
                    copyRuns.append(Self.seconds {
                        for _ in 0..<rounds {
                            target.copyMemory(from: bytes)
                            sink &+= UInt64(target[7])
                        }
                    })
                    crcRuns.append(Self.seconds {
                        for _ in 0..<(rounds / 20) {
                            var c = CRC32C()
                            c.update(bytes)
                            sink &+= UInt64(c.value)
                        }
                    })
                }
                let total = Double(bytes.count * rounds)
                func gbps(_ runs: [Double], _ bytes: Double) -> Double { (bytes / runs.sorted()[runs.count / 2] / 1e8).rounded() / 10 }
                print("""
                    DecodeBenchmark: \(bytes.count)-byte datagrams (\(perDatagram) message of \(messageData) data bytes), \(rounds) rounds, median of 5
                      decode (validate all, zero-copy): \(gbps(decodeRuns, total)) GB/s \
                    (\(Int(Double(rounds) / decodeRuns.sorted()[2])) messages/s)
                      memcpy of the same bytes:         \(gbps(copyRuns, total)) GB/s
                      CRC-32C of the same bytes:        \(gbps(crcRuns, total / 20)) GB/s (hardware: \(CRC32C.isHardwareAccelerated))
                    """)
                #expect(sink > 0)
            }
        }
    }
}
