#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import Testing
@testable import CkptProtocol

/// The hot path allocates nothing: decoding record messages and re-encoding them into a
/// warmed-up buffer leaves the heap's in-use bytes unchanged (glibc `mallinfo2`, via
/// `ckpt_heap_in_use`). Other suites run in parallel in the same process and move the
/// counter too (on a loaded host, through 20 attempts in a row: seen in CI), so the
/// measurement is repeated, for up to 15 s, until one attempt shows zero growth: the other
/// suites end within seconds, and run alone every attempt does. A hot path that keeps
/// memory grows in every attempt and fails. It catches retained allocations, not a
/// malloc/free pair inside one message.
@Suite(.serialized) struct AllocationTests {
    @Test func decodeAndEncodeDoNotAllocate() throws {
        let meta = metaBytes(samplePages)
        let data = [UInt8](repeating: 7, count: 32 * 1024)
        let datagram = MessageBuffer()
        let scratch = MessageBuffer()
        let decoder = StreamDecoder()
        let encoder = MessageEncoder.usersock
        var bytes: UInt64 = 0, attempts = 0
        try meta.withUnsafeBytes { m in
            try data.withUnsafeBytes { d in
                let f = RecordFragment(crid: 1, seq: 1, type: .pages, id: 2, parent: 1, dataLength: 32 * 1024,
                                       dataOffset: 0, meta: m, data: d)
                for _ in 0..<4 { encoder.record(f, into: datagram) }  // 4 messages in one datagram
                func round() throws {
                    try decoder.decode(datagram: datagram.bytes, expectedType: usersockType) { event in
                        guard case let .record(g) = event else { return }
                        bytes &+= UInt64(g.data.count)
                        scratch.removeAll()
                        encoder.record(g, into: scratch)
                    }
                }
                for _ in 0..<10 { try round() }  // warm up (lazy globals, buffer growth)
                var growth: [Int] = []
                let deadline = ContinuousClock.now + .seconds(15)
                repeat {
                    let before = ckpt_heap_in_use()
                    for _ in 0..<50 { try round() }
                    growth.append(Int(ckpt_heap_in_use()) - Int(before))
                    attempts += 1
                } while growth.last != 0 && (attempts < 20 || ContinuousClock.now < deadline)
                #expect(growth.last == 0, "heap in use grew in every one of \(attempts) attempts: \(growth.suffix(20))")
            }
        }
        #expect(bytes == UInt64(10 + attempts * 50) * 4 * 32 * 1024)
    }
}
