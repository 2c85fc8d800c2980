#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptInject
import Foundation
import CkptTestSupport
import XCTest

/// kill -9 the real listener at random points while it captures concurrent streams, restart
/// it on the same directory, and check after every restart that:
/// - every `.ckpt` verifies and equals, byte for byte, the stream that was sent;
/// - every stream the killed listener had begun (its log says "stream began") is either a
///   verified `.ckpt` or a `.failed` with a reason (in flight: "killed mid-capture");
///   no `.partial` is left and no stream is both;
/// - streams sent to the restarted listener are captured complete.
/// Fast suite: 5 kills. With CKPT_SLOW_TESTS=1: 100.
final class CrashConsistencyTests: XCTestCase {
    var kills: Int { ProcessInfo.processInfo.environment["CKPT_SLOW_TESTS"] == "1" ? 100 : 5 }

    func testKillDashNineAtRandomPointsLosesNothingThatLooksComplete() throws {
        let directory = try makeTemporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var rng = SeededGenerator(seed: 0xC0FFEE)
        let options = ["--socket-buffer", "65536", "--pool-buffers", "4"]
        var listener = try ListenerProcess(directory: directory, arguments: options, logName: "crash-0")
        var sent: [UInt64: SyntheticStream] = [:]
        var crid: UInt64 = 900_000
        var totals = (complete: 0, failed: 0, neverBegun: 0, wholeLeftovers: 0)

        for cycle in 0..<kills {
            // A burst of concurrent streams, some large enough to be mid-record at the kill.
            var plan = InjectPlan()
            plan.seed = 1_000 + UInt64(cycle)
            plan.streams = rng.int(2...6)
            plan.firstCrid = crid
            plan.shape = StreamShape(threads: 2, vmas: 4, pages: rng.int(16...400), files: 2, fragmentSize: rng.int(1000...65531))
            crid += UInt64(plan.streams)
            let run = InjectRun(plan: plan)
            for p in run.streams { sent[p.stream.crid] = p.stream }
            // Kill once a random number of datagrams went out (the small socket buffer and
            // pool keep the listener busy behind the sender: the kill lands mid-capture).
            let port = listener.port
            let target = rng.int(1...run.datagrams.count)
            let reached = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            let sender = Thread {
                _ = try? InjectRun.send(run.datagrams, toPort: port) { n in if n == target { reached.signal() } }
                reached.signal()  // fails with ECONNREFUSED once the listener is gone
                done.signal()
            }
            sender.start()
            _ = reached.wait(timeout: .now() + 20)
            usleep(useconds_t(rng.int(0...3_000)))
            let killedLog = listener.logPath
            listener.kill9()
            let logAfterKill = ListenerProcess.read(killedLog)
            _ = done.wait(timeout: .now() + 20)

            // Restart: leftovers are reported, then check every stream of this cycle.
            listener = try ListenerProcess(directory: directory, arguments: options, logName: "crash-\(cycle + 1)")
            try waitFor("leftovers recovered") {
                listener.log.contains("listening") && !files(in: directory).contains { $0.hasSuffix(".partial") }
            }
            let names = Set(files(in: directory))
            totals.wholeLeftovers += listener.log.components(separatedBy: "was complete and verified: published").count - 1
            for p in run.streams {
                let c = p.stream.crid
                let began = logAfterKill.split(separator: "\n").contains { $0.contains("crid=\(c) ") && $0.contains("stream began") }
                let ckpt = names.contains("\(c).ckpt"), failed = names.contains("\(c).failed")
                XCTAssertFalse(ckpt && failed, "crid \(c) both captured and failed")
                if ckpt {
                    XCTAssertNil(captureDifference(directory + "/\(c).ckpt", p.stream), "cycle \(cycle) crid \(c)")
                    totals.complete += 1
                } else if failed {
                    let reason = ListenerProcess.read(directory + "/\(c).failed.reason")
                    XCTAssertTrue(reason.hasPrefix("listener crashed or was killed mid-capture") || reason.hasPrefix("crid \(c)"),
                                  "cycle \(cycle) crid \(c): \(reason)")
                    // Killed between finishing the file and publishing it, a leftover can be
                    // a whole image: the restarted listener verifies and publishes that one
                    // (the .ckpt branch checks it equals the stream). What is left failed
                    // must not verify: nothing half-written ever looks complete.
                    XCTAssertNil(try? verifyImage(path: directory + "/\(c).failed"),
                                 "cycle \(cycle) crid \(c): a whole leftover was failed instead of published")
                    totals.failed += 1
                } else {
                    XCTAssertFalse(began, "cycle \(cycle) crid \(c): began before the kill, yet neither .ckpt nor .failed")
                    totals.neverBegun += 1
                }
            }
            // The restarted listener captures new streams completely.
            var fresh = InjectPlan()
            fresh.seed = 50_000 + UInt64(cycle)
            fresh.streams = 2
            fresh.firstCrid = crid
            fresh.shape = StreamShape(threads: 1, vmas: 2, pages: 8, files: 1, fragmentSize: 4000)
            crid += 2
            let after = InjectRun(plan: fresh)
            try after.send(toPort: listener.port)
            try waitFor("fresh streams after restart \(cycle)") {
                after.streams.allSatisfy { FileManager.default.fileExists(atPath: directory + "/\($0.stream.crid).ckpt") }
            }
            for p in after.streams {
                sent[p.stream.crid] = p.stream
                XCTAssertNil(captureDifference(directory + "/\(p.stream.crid).ckpt", p.stream))
            }
        }
        // Every image in the directory, whenever it was made, is one that was sent.
        for name in files(in: directory) where name.hasSuffix(".ckpt") {
            let c = UInt64(name.prefix { $0.isNumber })!
            XCTAssertNotNil(sent[c], name)
            if let s = sent[c] { XCTAssertNil(captureDifference(directory + "/" + name, s), name) }
        }
        XCTAssertEqual(listener.stop(), 0)
        print("crash consistency: \(kills) kills; killed-cycle streams: \(totals.complete) complete, \(totals.failed) failed, \(totals.wholeLeftovers) whole leftovers published at restart, \(totals.neverBegun) never begun")
    }
}
