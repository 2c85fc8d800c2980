#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptInject
import CkptProtocol
import Foundation
import CkptTestSupport
import XCTest

/// The injector on its own: determinism, realistic and valid streams, faults that do what
/// they say (checked in-process against the real reassembler, every kind at every position),
/// the datagram file, and the `ckpt inject` command line.
final class InjectorTests: XCTestCase {
    func plan(seed: UInt64, streams: Int = 3, faults: [FaultKind] = [], at: UInt32? = nil) -> InjectPlan {
        var p = InjectPlan()
        p.seed = seed
        p.streams = streams
        p.faults = faults
        p.faultAt = at
        p.shape = StreamShape(threads: 2, vmas: 3, pages: 20, files: 2, fragmentSize: 3000)
        return p
    }

    func testSameSeedSameBytesOtherSeedOtherBytes() {
        let a = InjectRun(plan: plan(seed: 5, faults: [.drop, .garbage]))
        let b = InjectRun(plan: plan(seed: 5, faults: [.drop, .garbage]))
        let c = InjectRun(plan: plan(seed: 6, faults: [.drop, .garbage]))
        XCTAssertEqual(a.datagrams, b.datagrams)
        XCTAssertEqual(a.summary, b.summary)
        XCTAssertNotEqual(a.datagrams, c.datagrams)
    }

    func testCleanStreamsAreValidAndRealistic() throws {
        let run = InjectRun(plan: plan(seed: 9, streams: 4))
        var sim = Simulator()
        for d in run.datagrams { sim.feed(d) }
        XCTAssertEqual(sim.malformed, 0)
        XCTAssertEqual(sim.failed.count, 0, "\(sim.failed)")
        for p in run.streams {
            XCTAssertEqual(sim.completed[p.stream.crid], p.stream.summary)
            let types = p.stream.records.map(\.type)
            XCTAssertEqual(types.first, .header)
            XCTAssertEqual(types.last, .trailer)
            XCTAssertEqual(types.filter { $0 == .regs }.count, 2)
            XCTAssertEqual(types.filter { $0 == .vma }.count, 3)
            XCTAssertEqual(types.filter { $0 == .file }.count, 2)
            let pages = p.stream.records.filter { $0.type == .pages }.reduce(0) { $0 + $1.data.count }
            XCTAssertEqual(pages, 20 * 4096)
            // Interleaved: the streams' messages are mixed, each in its own order.
            XCTAssertGreaterThan(p.cleanMessages.count, 20)
        }
        XCTAssertNotEqual(run.datagrams, run.streams.flatMap(\.datagrams), "streams were not interleaved")
    }

    /// Every kind, alone, at every position of a stream: the real reassembler fails the
    /// stream with exactly the rule (and seq) the injector promises, and the clean
    /// companion completes. Silent/abandoned cases are expired by the clock.
    func testEveryFaultAtEveryPositionMeetsItsExpectation() {
        var cases = 0
        for kind in FaultKind.allCases {
            let probe = InjectRun(plan: plan(seed: 40, streams: 1, faults: [kind], at: 1))
            let count = UInt32(probe.streams[0].cleanMessages.count)
            for at in 0...count {
                var p = plan(seed: 40 + UInt64(at), streams: 2, faults: [kind], at: at)
                p.faultyStreams = 1
                let run = InjectRun(plan: p)
                var sim = Simulator()
                for d in run.datagrams { sim.feed(d) }
                sim.expireAll()
                let faulty = run.streams[0], clean = run.streams[1]
                let e = faulty.expectation
                let crid = faulty.stream.crid
                let what = "\(kind.rawValue) at \(at): \(faulty.faults.map(\.detail))"
                XCTAssertEqual(sim.completed[clean.stream.crid], clean.stream.summary, what)
                XCTAssertEqual(sim.malformed, e.malformedDatagrams, what)
                if e.isComplete {
                    XCTAssertEqual(sim.completed[crid], faulty.stream.summary, what)
                } else {
                    XCTAssertNil(sim.completed[crid], what)
                    XCTAssertEqual(sim.failed[crid]?.rule.name, e.rule, "\(what): \(sim.failed[crid].map { "\($0)" } ?? "no failure")")
                    if let seq = e.seq { XCTAssertEqual(sim.failed[crid]?.seq, seq, what) }
                }
                cases += 1
            }
        }
        XCTAssertGreaterThan(cases, 300)
    }

    func testDatagramFileRoundTripsAndRejectsDamage() throws {
        let run = InjectRun(plan: plan(seed: 3, faults: [.garbage]))
        let bytes = DatagramFile.encode(run.datagrams)
        XCTAssertEqual(try DatagramFile.decode(bytes), run.datagrams)
        XCTAssertThrowsError(try DatagramFile.decode(Array(bytes.dropLast())))
        XCTAssertThrowsError(try DatagramFile.decode(Array("not a file".utf8)))
    }

    func testExportedImageVerifiesAndHoldsTheStream() throws {
        let directory = try makeTemporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stream = InjectRun(plan: plan(seed: 12, streams: 1)).streams[0].stream
        try ImageExport.write(stream, to: directory + "/x.ckpt")
        XCTAssertNil(captureDifference(directory + "/x.ckpt", stream))
        XCTAssertThrowsError(try ImageExport.write(stream, to: directory + "/x.ckpt"), "never overwrites")
    }

    // MARK: the command line

    func ckpt(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = try ckptExecutable()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCommandLineOutIsDeterministicAndFromReplaysIt() throws {
        let directory = try makeTemporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let args = ["inject", "--seed", "21", "--streams", "3", "--faulty-streams", "1", "--fault", "corrupt-payload",
                    "--pages", "10", "--fragment-size", "2000", "--crid", "7700", "--json"]
        let a = try ckpt(args + ["--out", directory + "/a.dgm"])
        let b = try ckpt(args + ["--out", directory + "/b.dgm"])
        XCTAssertEqual(a.status, 0, a.err)
        XCTAssertEqual(a.out, b.out)
        XCTAssertEqual(FileManager.default.contents(atPath: directory + "/a.dgm"), FileManager.default.contents(atPath: directory + "/b.dgm"))
        let summary = try InjectSummary.parse(a.out)
        XCTAssertEqual(summary.streams.map(\.crid), [7700, 7701, 7702])
        XCTAssertEqual(summary.streams[0].expect.rule, "summary-mismatch")
        XCTAssertEqual(summary.streams[0].faults.first?.kind, .corruptPayload)
        XCTAssertTrue(summary.streams[1].expect.isComplete)

        // The kept file, sent again, gives the same outcome.
        let images = directory + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let listener = try ListenerProcess(directory: images)
        let sent = try ckpt(["inject", "--port", "\(listener.port)", "--from", directory + "/a.dgm"])
        XCTAssertEqual(sent.status, 0, sent.err)
        let run = InjectRun(plan: {
            var p = plan(seed: 21, streams: 3, faults: [.corruptPayload])
            p.shape = StreamShape(threads: 2, vmas: 6, pages: 10, files: 3, fragmentSize: 2000)
            p.faultyStreams = 1
            p.firstCrid = 7700
            return p
        }())
        XCTAssertEqual(DatagramFile.encode(run.datagrams), Array(FileManager.default.contents(atPath: directory + "/a.dgm")!))
        try waitFor("three streams settled") { run.streams.allSatisfy { isSettled($0, in: images) } }
        for p in run.streams { XCTAssertEqual(checkSettled(p, in: images), []) }
        XCTAssertEqual(listener.stop(), 0)
    }

    func testCommandLineImageAndSendAgree() throws {
        let directory = try makeTemporaryDirectory("cli-image")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let listener = try ListenerProcess(directory: directory + "/captured", arguments: ["--exit-after", "1"])
        let r = try ckpt(["inject", "--port", "\(listener.port)", "--seed", "4", "--crid", "8800", "--image", directory + "/expected.ckpt"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("crid 8800"), r.out)
        listener.process.waitUntilExit()
        let expected = try ImageReader(path: directory + "/expected.ckpt")
        let captured = try ImageReader(path: directory + "/captured/8800.ckpt")
        XCTAssertEqual(expected.summary, captured.summary)
        // The file headers differ (host, capture time); from the first record on, the same layout.
        func relative(_ r: ImageReader) -> [ImageIndexEntry] {
            r.index.map { var e = $0; e.offset -= r.recordsOffset; return e }
        }
        XCTAssertEqual(relative(expected), relative(captured), "same records at the same offsets")
    }

    func testCommandLineErrors() throws {
        XCTAssertEqual(try ckpt(["inject", "--port", "1", "--fault", "explode"]).status, 64)
        XCTAssertEqual(try ckpt(["inject", "--seed", "1"]).status, 64)
        XCTAssertEqual(try ckpt(["inject", "--out", "/dev/null", "--vmas", "0", "--pages", "3"]).status, 64)
        // Nobody listens on this port: the send fails, exit 74 with the reason.
        let r = try ckpt(["inject", "--port", "4000000001"])
        XCTAssertEqual(r.status, 74, r.err)
        XCTAssertTrue(r.err.contains("ckpt inject: send:"), r.err)
    }
}
