#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptInject
import Foundation
import CkptTestSupport
import XCTest

/// The adversarial corpus: every fault kind, at several positions, from several seeds, each
/// beside a clean stream, against one real `ckpt listen --usersock` process over a real
/// socket. Each case must end with exactly the expected failure (rule, crid, seq) in
/// `<crid>.failed.reason`, the clean stream captured complete and equal to what was sent,
/// no image that looks complete for a faulty stream, and the listener still running. At the
/// end the listener's counters must account for every stream and every undecodable datagram.
final class AdversarialCorpusTests: XCTestCase {
    /// seeds x kinds x positions: nil = picked from the seed, 0 = the begin (clamped to the
    /// first message the kind can hit), 1/2/5 = early, 10_000 = clamped to the last one it can hit.
    static func position(seedIndex: Int, _ i: Int) -> UInt32? {
        seedIndex % 2 == 0 ? [nil, 0, 5, 10_000][i] : [nil, 1, 2, 10_000][i]
    }
    static let seedsPerKind: [UInt64] = [11, 23, 37, 41]

    /// The single-fault corpus plus mixed pairs.
    static func corpus() -> [InjectPlan] {
        var plans: [InjectPlan] = []
        var crid: UInt64 = 500_000
        func plan(_ seed: UInt64, _ faults: [FaultKind], at: UInt32?) -> InjectPlan {
            var rng = SeededGenerator(seed: seed, stream: 99)
            var p = InjectPlan()
            p.seed = seed
            p.streams = 2
            p.faultyStreams = 1
            p.faults = faults
            p.faultAt = at
            p.firstCrid = crid
            crid += 2
            p.shape = StreamShape(threads: rng.int(1...3), vmas: rng.int(1...4), pages: rng.int(1...12), files: rng.int(0...3),
                                  fragmentSize: rng.int(600...5000))
            return p
        }
        for kind in FaultKind.allCases {
            for (s, seed) in seedsPerKind.enumerated() {
                for i in 0..<4 {
                    plans.append(plan(seed &* 1_000 &+ UInt64(kind.hashValueStable * 10 + s * 4 + i), [kind],
                                      at: position(seedIndex: s, i)))
                }
            }
        }
        // Mixed: garbage with every other fault; an early fault with a bad checksum at the end.
        for (i, kind) in FaultKind.allCases.enumerated() where kind != .garbage {
            plans.append(plan(77_000 + UInt64(i), [kind, .garbage], at: nil))
            plans.append(plan(78_000 + UInt64(i), [kind, .corruptChecksum], at: 3))
        }
        return plans
    }

    func testAdversarialCorpusAgainstTheRealListener() throws {
        let started = Date()
        let directory = try makeTemporaryDirectory("corpus")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let listener = try ListenerProcess(directory: directory, arguments: ["--stream-timeout", "1"], logName: "corpus")
        let plans = Self.corpus()
        XCTAssertGreaterThanOrEqual(plans.count, 200)
        let runs = plans.map { InjectRun(plan: $0) }
        // Every kind is covered, and each faulty stream really expects a failure (or, for
        // garbage alone, completion with malformed datagrams).
        XCTAssertEqual(Set(runs.flatMap { $0.streams.flatMap { $0.faults.map(\.kind) } }), Set(FaultKind.allCases))

        var problems: [String] = []
        var expectedRules: [String: Int] = [:]
        var expectedMalformed = 0
        var expectedCompleted = 0
        let batch = 40
        for start in stride(from: 0, to: runs.count, by: batch) {
            let slice = runs[start..<min(start + batch, runs.count)]
            for run in slice { try run.send(toPort: listener.port) }
            let prepared = slice.flatMap(\.streams)
            let unsettled = { prepared.filter { !isSettled($0, in: directory) }
                .map { "crid \($0.stream.crid) \($0.faults.map(\.detail)) expecting \($0.expectation.rule ?? "complete")" } }
            try waitFor("batch at \(start) to settle; unsettled: \(unsettled())", timeout: 30) { unsettled().isEmpty }
            for p in prepared {
                problems += checkSettled(p, in: directory)
                if let rule = p.expectation.rule { expectedRules[rule, default: 0] += 1 } else { expectedCompleted += 1 }
                expectedMalformed += p.expectation.malformedDatagrams
            }
            XCTAssertTrue(listener.isRunning, "listener died during batch at \(start): \(listener.log.suffix(2000))")
        }
        XCTAssertEqual(problems, [], "\(problems.count) cases went wrong")

        // Nothing else in the directory: no leftover partial, no image for a faulty stream.
        let all = files(in: directory).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(all.filter { $0.hasSuffix(".partial") }, [])
        XCTAssertEqual(all.filter { $0.hasSuffix(".ckpt") }.count, expectedCompleted)
        for name in all where name.hasSuffix(".ckpt") {
            XCTAssertNoThrow(try verifyImage(path: directory + "/" + name), name)
        }
        // The counters account for everything (the stats file is rewritten every second).
        var last = ""
        do {
            try waitFor("stats to match", timeout: 5) {
                last = "\(listener.failuresByRule) completed \(listener.counter("streams", "completed") ?? -1) malformed \(listener.counter("receive", "malformed_datagrams") ?? -1)"
                return listener.failuresByRule == expectedRules
                    && listener.counter("streams", "completed") == expectedCompleted
                    && listener.counter("receive", "malformed_datagrams") == expectedMalformed
            }
        } catch {
            XCTFail("stats: \(last); expected \(expectedRules) completed \(expectedCompleted) malformed \(expectedMalformed)")
        }
        // Undecodable datagrams (garbage, cut messages) are rejected with a log line.
        XCTAssertTrue(listener.log.contains("malformed datagram dropped"), listener.log.suffix(2000).description)
        XCTAssertTrue(listener.isRunning)
        XCTAssertEqual(listener.stop(), 0, listener.log.suffix(2000).description)
        print("adversarial corpus: \(plans.count) cases, \(runs.reduce(0) { $0 + $1.streams.count }) streams, "
              + "failures \(expectedRules.sorted { $0.key < $1.key }), \(expectedMalformed) malformed datagrams, "
              + String(format: "%.1f s", Date().timeIntervalSince(started)))
    }
}

extension FaultKind {
    /// A stable small number per kind (Swift's hashValue is seeded per process).
    var hashValueStable: Int { FaultKind.allCases.firstIndex(of: self)! }
}
