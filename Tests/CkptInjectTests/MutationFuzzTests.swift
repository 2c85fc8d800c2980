import CkptInject
import CkptListener
import CkptProtocol
import Foundation
import XCTest

/// The property-based twin of tools/fuzz (libFuzzer): a fixed-seed random mutator over valid
/// interleaved streams, fed through the decoder and the real reassembler (`Simulator`). For
/// every mutant: no crash, decode errors are `ProtocolError` only (the simulator traps
/// otherwise), every stream settles exactly once, and a stream that completes holds exactly
/// the content that was sent (its summary equals the clean stream's). Mutants left unchanged
/// by chance must complete every stream.
///
/// CKPT_FUZZ_ITERATIONS sets the count (default 3000; the slow suite runs 30000).
final class MutationFuzzTests: XCTestCase {
    var iterations: Int {
        if let n = ProcessInfo.processInfo.environment["CKPT_FUZZ_ITERATIONS"].flatMap(Int.init) { return n }
        return ProcessInfo.processInfo.environment["CKPT_SLOW_TESTS"] == "1" ? 30_000 : 3_000
    }

    static let interesting: [UInt32] = [0, 1, 2, 3, 4, 7, 8, 15, 16, 20, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000,
                                        0xfffe, 0xffff, 0x1_0000, 65531, 65535, 16_777_216, 0x7fff_ffff, 0xffff_ffff]

    static func mutate(_ input: [[UInt8]], _ rng: inout SeededGenerator) -> [[UInt8]] {
        var d = input
        for _ in 0..<rng.int(1...4) where !d.isEmpty {
            let i = rng.int(0...d.count - 1)
            switch rng.int(0...9) {
            case 0:  // flip a bit
                if !d[i].isEmpty { let j = rng.int(0...d[i].count - 1); d[i][j] ^= UInt8(1) << UInt8(rng.int(0...7)) }
            case 1:  // an interesting u16 at a 2-aligned offset (lengths and types)
                if d[i].count >= 2 {
                    let j = rng.int(0...(d[i].count / 2 - 1)) * 2
                    let v = UInt16(truncatingIfNeeded: interesting[rng.int(0...interesting.count - 1)])
                    d[i][j] = UInt8(v & 0xff); d[i][j + 1] = UInt8(v >> 8)
                }
            case 2:  // an interesting u32 at a 4-aligned offset (values, nlmsg_len)
                if d[i].count >= 4 {
                    let j = rng.int(0...(d[i].count / 4 - 1)) * 4
                    let v = interesting[rng.int(0...interesting.count - 1)]
                    for k in 0..<4 { d[i][j + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
                }
            case 3:  // truncate
                d[i].removeLast(rng.int(0...d[i].count))
            case 4:  // drop
                d.remove(at: i)
            case 5:  // duplicate
                d.insert(d[i], at: i)
            case 6:  // swap with a neighbour
                if i + 1 < d.count { d.swapAt(i, i + 1) }
            case 7:  // splice: the tail of another datagram over this one's
                let o = d[rng.int(0...d.count - 1)]
                if !o.isEmpty, !d[i].isEmpty {
                    let at = rng.int(0...d[i].count - 1), from = rng.int(0...o.count - 1)
                    d[i] = Array(d[i][..<at]) + o[from...]
                }
            case 8:  // two datagrams in one
                if i + 1 < d.count { d[i] += d.remove(at: i + 1) }
            default:  // random bytes
                d.insert(rng.bytes(rng.int(0...64)), at: i)
            }
        }
        return d
    }

    func testFixedSeedMutationsNeverCrashAndNeverCompleteWrongContent() {
        var bases: [InjectRun] = []
        for seed: UInt64 in 1...4 {
            var p = InjectPlan()
            p.seed = seed
            p.streams = Int(seed % 3) + 1
            p.firstCrid = seed * 100
            p.shape = StreamShape(threads: 1, vmas: 2, pages: 3, files: 1, fragmentSize: 1500)
            bases.append(InjectRun(plan: p))
        }
        var rng = SeededGenerator(seed: 0xF022)
        var outcomes = (completed: 0, failed: 0, malformed: 0)
        for n in 0..<iterations {
            let base = bases[n % bases.count]
            let mutant = Self.mutate(base.datagrams, &rng)
            var sim = Simulator()
            for d in mutant { sim.feed(d) }
            sim.expireAll()
            XCTAssertEqual(sim.reassembler.streamsInFlight, 0)
            for (crid, summary) in sim.completed {
                guard let sent = base.streams.first(where: { $0.stream.crid == crid }) else {
                    XCTFail("iteration \(n): a stream the sender never sent completed (crid \(crid))")
                    continue
                }
                XCTAssertEqual(summary, sent.stream.summary, "iteration \(n): crid \(crid) completed with other content")
            }
            if mutant == base.datagrams {
                XCTAssertEqual(sim.completed.count, base.streams.count, "iteration \(n): an unchanged run must complete")
            }
            outcomes.completed += sim.completed.count
            outcomes.failed += sim.failed.count
            outcomes.malformed += sim.malformed
        }
        print("mutation fuzz: \(iterations) mutants; \(outcomes.completed) streams completed, \(outcomes.failed) failed, \(outcomes.malformed) malformed datagrams")
    }
}
