#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Foundation
import CkptTestSupport
import XCTest

/// `ckpt replay`, `checkpoint`, `stats` through the built executable; the replay round trip
/// into a real `ckpt listen --usersock` process.
final class ReplayCommandTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes an image, replays it with `ckpt replay --usersock` into a listener process, and
    /// compares the captured image record by record, and its checksum.
    private func roundTrip(_ records: [FixtureRecord], crid: UInt64, extra: [String] = []) throws {
        let source = dir + "/source.ckpt"
        try writeFixtureImage(source, records, crid: crid)
        let captured = dir + "/captured"
        let listener = try ListenerProcess(directory: captured, arguments: ["--exit-after", "1", "--pool-buffers", "4"])
        let port = listener.port
        let r = try ckpt(["replay", source, "--usersock", "\(port)", "--progress", "never"] + extra)
        listener.waitForExit()
        let log = listener.log
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(listener.process.terminationStatus, 0, log)
        XCTAssertTrue(r.stdout.hasPrefix("replayed \(source) as crid \(crid) to usersock port \(port): \(records.count) records"), r.all)

        let copy = captured + "/\(crid).ckpt"
        XCTAssertTrue(FileManager.default.fileExists(atPath: copy), log)
        let original = try ImageReader(path: source), again = try ImageReader(path: copy)
        XCTAssertEqual(again.summary, original.summary, "records, bytes and checksum")
        XCTAssertEqual(again.header.crid, original.header.crid)
        XCTAssertEqual(again.header.pid, original.header.pid)
        XCTAssertEqual(try readRecords(copy), try readRecords(source))
        XCTAssertEqual(try readRecords(copy), records)
        let verify = try ckpt(["verify", copy])
        XCTAssertEqual(verify.status, 0, verify.all)
    }

    func testReplayRoundTripThroughAListenerProcess() throws {
        try roundTrip(fixtureRecords(), crid: 7)
    }

    /// 8 runs of 256 pages (1 MiB each, 17 fragments): 8 MiB through a 4-buffer listener,
    /// so the replay blocks on a full socket (backpressure) and nothing is lost.
    func testReplayRoundTripOfALargeImageWithBackpressure() throws {
        try roundTrip(fixtureRecords(runs: 8, pagesPerRun: 256, seed: 9), crid: 123_456)
    }

    func testReplayWithAnotherCrid() throws {
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords())
        let listener = try ListenerProcess(directory: dir + "/out", arguments: ["--exit-after", "1"])
        let port = listener.port
        let r = try ckpt(["replay", source, "--usersock", "\(port)", "--crid", "4711"])
        listener.waitForExit()
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(try ImageReader(path: dir + "/out/4711.ckpt").summary, try ImageReader(path: source).summary)
    }

    /// With --no-verify a damaged record is found mid-stream: the listener gets a
    /// stream-abort (its capture fails as aborted, bytes kept) and replay exits 65.
    func testDamageFoundMidStreamAbortsTheStream() throws {
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords(runs: 3, pagesPerRun: 20))
        var b = fileBytes(source)
        let e = try CkptImageProbe.entry(source, id: 8)
        b[Int(e.dataOffset) + 77] ^= 0x10
        writeBytes(source, b)
        let listener = try ListenerProcess(directory: dir + "/out", arguments: ["--exit-after", "1"])
        let port = listener.port
        let r = try ckpt(["replay", source, "--usersock", "\(port)", "--no-verify"])
        listener.waitForExit()
        let log = listener.log
        XCTAssertEqual(r.status, 65, r.all)
        XCTAssertTrue(r.stderr.contains("FAILED at record 8"), r.all)
        let reason = try String(contentsOfFile: dir + "/out/7.failed.reason", encoding: .utf8)
        XCTAssertTrue(reason.contains("abort") || reason.contains("fault"), reason + log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/7.ckpt"))
    }

    func testReplayToAPortWithoutListenerIs74() throws {
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords())
        // A port nobody bound: a socket of ours, closed.
        let r = try ckpt(["replay", source, "--usersock", "3999999999"])
        XCTAssertEqual(r.status, 74, r.all)
        XCTAssertTrue(r.stderr.contains("no listener on usersock port 3999999999"), r.all)
    }

    /// A shared mapping's memory is not in the image: replay --pid refuses before it opens
    /// a session (here, before it looks for the module at all), naming the mapping.
    func testReplayRefusesSharedMappings() throws {
        let source = dir + "/7.ckpt"
        var records = fixtureRecords()
        let i = try XCTUnwrap(records.firstIndex { $0.type == .vma && $0.id == 6 })
        records[i].meta = RecordMeta.vma(VMAMeta(start: 0x70_0000, end: 0x70_0000 + 12 * 4096, vmFlags: 0x3 | 0x8, pgoff: 0))
            .encodedPayload(padded: true)
        try writeFixtureImage(source, records)
        let r = try ckpt(["replay", source, "--pid", "1"])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.contains("refused: mapping 0x700000-0x70c000 is shared"), r.all)
    }

    func testReplayUsageErrors() throws {
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords())
        for args in [["replay", source], ["replay", source, "--pid", "1", "--usersock", "5"],
                     ["replay", source, "--usersock", "5", "--validate-only"], ["replay", source, "--pid", "1", "--window", "0"],
                     ["replay", source, "--pid", "0"]] {
            let r = try ckpt(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.all)")
        }
    }

    func testReplayDamagedImagesFailBeforeSending() throws {
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords())
        let missing = try ckpt(["replay", dir + "/none.ckpt", "--usersock", "1"])
        XCTAssertEqual(missing.status, 74, missing.all)
        var b = fileBytes(source)
        let e = try CkptImageProbe.entry(source, id: 8)
        b[Int(e.dataOffset) + 5] ^= 0xff
        writeBytes(source, b)
        let corrupt = try ckpt(["replay", source, "--usersock", "1"])
        XCTAssertEqual(corrupt.status, 65, corrupt.all)
        XCTAssertTrue(corrupt.stderr.contains("FAILED at record 8 offset \(e.offset)"), corrupt.all)
        writeBytes(source, Array(b[0..<(b.count / 3)]))
        let truncated = try ckpt(["replay", source, "--pid", "1"])
        XCTAssertEqual(truncated.status, 65, truncated.all)
        let unknown = try ckpt(["replay", "31337", "--dir", dir, "--pid", "1"])
        XCTAssertEqual(unknown.status, 1, unknown.all)
        XCTAssertTrue(unknown.stderr.contains("no image for crid 31337"), unknown.all)
    }

    func testReplayIntoAPidWithoutTheModuleIs69() throws {
        if kernelFamilyPresent() { throw XCTSkip("the ckpt module is loaded on this host") }
        let source = dir + "/7.ckpt"
        try writeFixtureImage(source, fixtureRecords())
        let r = try ckpt(["replay", source, "--pid", "\(getpid())"])
        XCTAssertEqual(r.status, 69, r.all)
        XCTAssertTrue(r.stderr.contains("is the ckpt module loaded?"), r.all)
    }

    // MARK: checkpoint

    func testCheckpointWithoutTheModuleIs69WithAClearMessage() throws {
        if kernelFamilyPresent() { throw XCTSkip("the ckpt module is loaded on this host") }
        for pid in ["\(getpid())", "999999"] {  // an existing and a missing pid: the family is checked first
            let r = try ckpt(["checkpoint", pid, "--stop"])
            XCTAssertEqual(r.status, 69, r.all)
            XCTAssertEqual(r.stderr, "ckpt checkpoint: the kernel has no generic netlink family ckpt: is the ckpt module loaded? (modprobe ckpt, or insmod ckpt.ko)\n")
            XCTAssertEqual(r.stdout, "")
        }
    }

    func testCheckpointOfAMissingPidIs1WhenTheModuleIsLoaded() throws {
        guard kernelFamilyPresent() else { throw XCTSkip("needs the ckpt module") }
        let r = try ckpt(["checkpoint", "999999", "--stop"])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.contains("no such process: pid 999999"), r.all)
    }

    /// A listener is refused before the kernel is asked (with or without the module): by its
    /// command line, and by the --wait directory's stats file.
    func testCheckpointOfTheListenerItselfIsRefusedAtOnce() throws {
        let listener = try ListenerProcess(directory: dir)
        let pid = listener.process.processIdentifier
        let started = Date()
        let r = try ckpt(["checkpoint", "\(pid)", "--stop"])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.hasPrefix("ckpt checkpoint: pid \(pid) is `ckpt listen` ("), r.all)
        XCTAssertTrue(r.stderr.contains("a listener cannot be checkpointed"), r.all)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "at once, not after a timeout")
        XCTAssertTrue(listener.isRunning, "the listener was not touched")
        XCTAssertEqual(listener.stop(), 0, listener.log)
    }

    func testCheckpointOfThePidInTheWaitDirectorysStatsIsRefused() throws {
        // A stats file as a running listener writes it, naming this test process.
        try "{\n  \"state\": \"running\",\n  \"pid\": \(getpid())\n}\n"
            .write(toFile: dir + "/.ckpt-listen.stats", atomically: true, encoding: .utf8)
        let r = try ckpt(["checkpoint", "\(getpid())", "--wait", dir])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertEqual(r.stderr, "ckpt checkpoint: pid \(getpid()) is the listener writing to \(dir): a listener cannot be checkpointed, "
                       + "the kernel would stream into the process it stopped\n")
    }

    func testCheckpointUsageErrors() throws {
        XCTAssertEqual(try ckpt(["checkpoint"]).status, 64)
        XCTAssertEqual(try ckpt(["checkpoint", "0"]).status, 64)
        XCTAssertEqual(try ckpt(["checkpoint", "-5"]).status, 64)
        XCTAssertEqual(try ckpt(["checkpoint", "abc"]).status, 64)
        XCTAssertEqual(try ckpt(["checkpoint", "1", "--timeout-ms", "0"]).status, 64)
        XCTAssertEqual(try ckpt(["checkpoint", "1", "--wait", dir, "--wait-timeout", "0"]).status, 64)
    }

    func testCheckpointWaitOnAMissingDirectoryIs74() throws {
        let r = try ckpt(["checkpoint", "1", "--wait", dir + "/missing"])
        XCTAssertEqual(r.status, 74, r.all)
    }

    // MARK: stats

    func testStatsWithoutModuleOrStatsFileIs69() throws {
        if kernelFamilyPresent() { throw XCTSkip("the ckpt module is loaded on this host") }
        let r = try ckpt(["stats", dir])
        XCTAssertEqual(r.status, 69, r.all)
        XCTAssertTrue(r.stdout.contains("is the ckpt module loaded?"), r.all)
    }

    func testStatsShowsTheListenersFile() throws {
        let listener = try ListenerProcess(directory: dir, arguments: ["--exit-after", "1"])
        let port = listener.port
        let source = dir + "/src.ckpt.tmp"
        try writeFixtureImage(source, fixtureRecords(), crid: 55)
        XCTAssertEqual(try ckpt(["replay", source, "--usersock", "\(port)"]).status, 0)
        listener.waitForExit()
        let r = try ckpt(["stats", dir])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("listener (\(dir)/.ckpt-listen.stats):"), r.all)
        XCTAssertTrue(r.stdout.contains("\"completed\": 1"), r.all)
        let json = try ckpt(["stats", dir, "--json"])
        XCTAssertEqual(json.status, 0, json.all)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertNotNil(object["listener"] as? [String: Any], json.stdout)
        XCTAssertEqual(object["json_version"] as? Int, 1, json.stdout)

        let list = try ckpt(["list", dir])
        XCTAssertTrue(list.stdout.contains("55 "), list.stdout)
        XCTAssertFalse(list.stdout.contains("src.ckpt.tmp"), list.stdout)
    }
}
