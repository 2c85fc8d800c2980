import CCkptUAPI
import Testing
@testable import CkptProtocol

/// Random corruption of valid datagrams never crashes a decoder (the debug build traps on
/// any out-of-bounds read): every input either decodes or throws a `ProtocolError`.
@Suite struct MutationTests {
    func validDatagram() -> [UInt8] {
        let b = MessageBuffer()
        let e = MessageEncoder.usersock
        e.streamBegin(crid: 3, pid: 9, into: b)
        for meta in allSampleMetas {
            let payload = metaBytes(meta)
            let data: [UInt8] = meta.type == .pages ? [UInt8](repeating: 1, count: 100) : []
            payload.withUnsafeBytes { m in
                data.withUnsafeBytes { d in
                    _ = Fragmenter(maxDataPerFragment: 64).fragments(
                        crid: 3, firstSeq: 1, type: meta.type, id: 1, parent: 0, meta: m, data: d) { e.record($0, into: b) }
                }
            }
        }
        e.streamAbort(crid: 3, seq: 20, reason: 1, message: "gone", into: b)
        return Array(b.bytes)
    }

    @Test func corruptedDatagramsThrowOrDecode() throws {
        let valid = validDatagram()
        var rng = SystemRandomNumberGenerator()
        var rejected = 0
        for round in 0..<3000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = round % 3 == 0 ? UInt8.random(in: 0...255, using: &rng) : bytes[i] ^ (1 << UInt8.random(in: 0...7, using: &rng))
            }
            if round % 5 == 0 { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            do {
                _ = try decodeAll(bytes)
                try bytes.withUnsafeBytes { raw in
                    try StreamDecoder().decode(datagram: raw, expectedType: usersockType) { event in
                        if case let .record(f) = event, let m = f.meta { _ = try RecordMeta(type: f.type, payload: m) }
                    }
                    try? RequestDecoder().decode(datagram: raw, expectedType: usersockType) { _, _ in }
                }
            } catch is ProtocolError {
                rejected += 1
            }
        }
        #expect(rejected > 1000)
    }
}
