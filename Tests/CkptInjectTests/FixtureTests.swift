#if canImport(Glibc)
import Glibc
#endif
import CkptInject
import Foundation
import CkptTestSupport
import XCTest

/// Kept regression cases (Tests/Fixtures/inject/): each `NAME.dgm` is a datagram file
/// (`ckpt inject --out`), sent byte for byte to one real listener; `NAME.expect.json` is the
/// `ckpt inject --json` summary of the run that made it (or, for hand-made files, just
/// `extraMalformedDatagrams`). docs/testing.md says how to add one.
final class FixtureTests: XCTestCase {
    struct Expectation: Decodable {
        struct Stream: Decodable {
            var crid: UInt64
            var expect: StreamExpectation
        }
        var streams: [Stream]
        var extraMalformedDatagrams: Int?
    }

    static var fixtureDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/inject").path
    }

    func testEveryKeptFixtureEndsAsRecordedAndTheListenerSurvives() throws {
        let names = files(in: Self.fixtureDirectory).filter { $0.hasSuffix(".dgm") }.map { String($0.dropLast(4)) }
        XCTAssertFalse(names.isEmpty)
        let directory = try makeTemporaryDirectory("fixtures")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var listener = try ListenerProcess(directory: directory, arguments: ["--stream-timeout", "1"], logName: "fixtures")
        var malformed = 0
        for name in names {
            let base = Self.fixtureDirectory + "/" + name
            let datagrams = try DatagramFile.read(from: base + ".dgm")
            let json = try XCTUnwrap(FileManager.default.contents(atPath: base + ".expect.json"), "\(name).expect.json")
            let expectation = try JSONDecoder().decode(Expectation.self, from: json)
            try InjectRun.send(datagrams, toPort: listener.port)
            // A crash takes a moment (Swift's backtracer runs first): give hand-made
            // datagrams, which settle no stream, time to show one.
            if expectation.streams.isEmpty { _ = eventually(timeout: 1.5) { !listener.isRunning } } else { usleep(100_000) }
            guard listener.isRunning else {
                XCTFail("\(name): the listener died: \(listener.log.suffix(1500))")
                listener = try ListenerProcess(directory: directory, arguments: ["--stream-timeout", "1"], logName: "fixtures-\(name)")
                malformed = 0
                continue
            }
            malformed += (expectation.extraMalformedDatagrams ?? 0) + expectation.streams.reduce(0) { $0 + $1.expect.malformedDatagrams }
            for s in expectation.streams {
                let c = s.crid
                try waitFor("\(name): crid \(c) settled") {
                    FileManager.default.fileExists(atPath: directory + "/\(c).ckpt")
                        || FileManager.default.fileExists(atPath: directory + "/\(c).failed.reason")
                }
                if s.expect.isComplete {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/\(c).ckpt"), "\(name): crid \(c)")
                } else {
                    let reason = ListenerProcess.read(directory + "/\(c).failed.reason")
                    let head = "crid \(c)" + (s.expect.seq.map { " seq \($0)" } ?? "")
                    XCTAssertTrue(reason.hasPrefix(head), "\(name): \(reason)")
                    if let text = ruleText[s.expect.rule ?? ""] { XCTAssertTrue(reason.contains(text), "\(name): \(reason)") }
                }
            }
        }
        var last = -1
        do {
            try waitFor("malformed count", timeout: 5) {
                last = listener.counter("receive", "malformed_datagrams") ?? -1
                return last == malformed
            }
        } catch {
            XCTFail("malformed datagrams: listener counted \(last), fixtures expect \(malformed)")
        }
        XCTAssertEqual(listener.stop(), 0)
    }
}
