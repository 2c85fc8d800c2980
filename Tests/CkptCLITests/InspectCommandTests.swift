import CkptProtocol
import Foundation
import XCTest

/// `ckpt verify`, `show`, `list`: through the built executable, errors included.
final class InspectCommandTests: XCTestCase {
    var dir = ""
    var image = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        image = dir + "/7.ckpt"
        try writeFixtureImage(image, fixtureRecords())
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    // MARK: help

    func testHelpListsEveryCommandAndTeaches() throws {
        let root = try ckpt(["--help"])
        XCTAssertEqual(root.status, 0)
        for name in ["listen", "checkpoint", "list", "show", "verify", "replay", "stats"] {
            XCTAssertTrue(root.stdout.contains("  \(name) "), "\(name) missing from ckpt --help")
        }
        for name in ["checkpoint", "list", "show", "verify", "replay", "stats"] {
            let help = try ckpt([name, "--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.stdout.contains("Examples:"), "\(name) --help has no examples")
            XCTAssertTrue(help.stdout.contains("Exit codes:"), "\(name) --help has no exit codes")
        }
    }

    // MARK: verify

    func testVerifyOK() throws {
        let r = try ckpt(["verify", image])
        XCTAssertEqual(r.status, 0, r.all)
        let size = fileBytes(image).count
        XCTAssertEqual(r.stdout, "\(image): ok (12 records, \(size) bytes)\n")
    }

    func testVerifyMissingFileIs74() throws {
        let r = try ckpt(["verify", dir + "/nope.ckpt"])
        XCTAssertEqual(r.status, 74, r.all)
        XCTAssertTrue(r.stdout.hasPrefix("\(dir)/nope.ckpt: FAILED: cannot read"), r.all)
    }

    func testVerifyWrongFormatVersionIs65() throws {
        var b = fileBytes(image)
        b[8] = 2  // version 2, header CRC recomputed so that the version is the problem
        let headerLength = Int(b[12]) | Int(b[13]) << 8
        var c = CRC32C()
        c.update(Array(b[0..<20]) + Array(b[24..<headerLength]))
        for i in 0..<4 { b[20 + i] = UInt8(truncatingIfNeeded: c.value >> (8 * UInt32(i))) }
        writeBytes(image, b)
        let r = try ckpt(["verify", image])
        XCTAssertEqual(r.status, 65, r.all)
        XCTAssertTrue(r.stdout.contains("FAILED at offset"), r.all)
        XCTAssertTrue(r.stdout.contains("format version 2"), r.all)
    }

    func testVerifyTruncatedIs65AndSaysWhere() throws {
        let b = fileBytes(image)
        writeBytes(image, Array(b[0..<(b.count / 2)]))
        let r = try ckpt(["verify", image])
        XCTAssertEqual(r.status, 65, r.all)
        XCTAssertTrue(r.stdout.contains("\(image): FAILED at record "), r.all)
        XCTAssertTrue(r.stdout.contains("truncated"), r.all)
    }

    func testVerifyCorruptedPageByteNamesTheRecord() throws {
        let reader = try CkptImageProbe.entry(image, id: 7)
        var b = fileBytes(image)
        b[Int(reader.dataOffset) + 100] ^= 0x40
        writeBytes(image, b)
        let r = try ckpt(["verify", image])
        XCTAssertEqual(r.status, 65, r.all)
        XCTAssertTrue(r.stdout.hasPrefix("\(image): FAILED at record 7 offset \(reader.offset): "), r.all)
        XCTAssertTrue(r.stdout.contains("CRC-32C"), r.all)
    }

    func testVerifySeveralReportsEachAndExits65() throws {
        let bad = dir + "/8.ckpt"
        var b = fileBytes(image)
        b[b.count - 10] ^= 1  // trailer
        writeBytes(bad, b)
        let r = try ckpt(["verify", image, bad])
        XCTAssertEqual(r.status, 65, r.all)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, r.all)
        XCTAssertTrue(lines[0].hasSuffix("ok (12 records, \(fileBytes(image).count) bytes)"))
        XCTAssertTrue(lines[1].hasPrefix("\(bad): FAILED at offset "), r.all)
    }

    func testVerifyByCrid() throws {
        XCTAssertEqual(try ckpt(["verify", "7", "--dir", dir]).status, 0)
        let r = try ckpt(["verify", "99", "--dir", dir])
        XCTAssertEqual(r.status, 74, r.all)
        XCTAssertTrue(r.stdout.contains("no image for crid 99"), r.all)
    }

    // MARK: show

    func testShowTree() throws {
        let r = try ckpt(["show", image])
        XCTAssertEqual(r.status, 0, r.all)
        let out = r.stdout
        XCTAssertTrue(out.contains("crid 7 pid 4242"), out)
        XCTAssertTrue(out.contains("#1 header  x86_64 page-size 4096 release 6.12.0-test"), out)
        XCTAssertTrue(out.contains("#2 task  pid 4242 tgid 4242 ppid 1 comm \"ktarget\""), out)
        XCTAssertTrue(out.contains("\n  #3 regs  tid 4242 rip 0x401abc rsp 0x7ffe00001000 (216 bytes)"), out)
        XCTAssertTrue(out.contains("\n    #5 vma  0x400000-0x402000 r-xp pgoff 0 (8.0 KiB, 2 pages) /usr/bin/ktarget"), out)
        XCTAssertTrue(out.contains("\n      #7 pages  0x700000 x 3 pages (12.0 KiB)"), out)
        XCTAssertTrue(out.contains("\n  #10 file  fd 0 flags 0x2 pos 0 /dev/pts/0"), out)
        XCTAssertTrue(out.contains("\n#12 trailer  threads 1 vmas 3 pages 6 files 2"), out)
    }

    func testShowJSON() throws {
        let r = try ckpt(["show", image, "--json"])
        XCTAssertEqual(r.status, 0, r.all)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let records = try XCTUnwrap(object["records"] as? [[String: Any]])
        XCTAssertEqual(records.count, 12)
        XCTAssertEqual(records[4]["type"] as? String, "vma")
        XCTAssertEqual((records[4]["meta"] as? [String: Any])?["path"] as? String, "/usr/bin/ktarget")
        XCTAssertEqual((object["image"] as? [String: Any])?["crid"] as? Int, 7)
    }

    func testShowOneRecordByID() throws {
        let r = try ckpt(["show", image, "--record", "7"])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.hasPrefix("#7 pages parent 6 at offset "), r.all)
        XCTAssertTrue(r.stdout.contains("data 12288 bytes"), r.all)
        XCTAssertTrue(r.stdout.contains("... 12224 more data bytes"), r.all)
    }

    /// `--data FILE` writes the record's whole data, byte for byte, into a new 0600 file.
    func testShowRecordDataWritesTheRecordsData() throws {
        let out = dir + "/pages-7.bin"
        let r = try ckpt(["show", image, "--record", "7", "--data", out])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(r.stdout, "wrote 12288 data bytes of record 7 (pages) to \(out)\n")
        let expected = fixtureRecords().first { $0.id == 7 }!.data
        XCTAssertEqual(fileBytes(out), expected)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)

        let again = try ckpt(["show", image, "--record", "7", "--data", out])
        XCTAssertEqual(again.status, 1, "never over an existing file: \(again.all)")
        XCTAssertTrue(again.stderr.contains("File exists"), again.all)
        XCTAssertEqual(fileBytes(out), expected)

        let empty = try ckpt(["show", image, "--record", "2", "--data", dir + "/task.bin"])
        XCTAssertEqual(empty.status, 0, empty.all)
        XCTAssertEqual(fileBytes(dir + "/task.bin"), [])
        XCTAssertEqual(try ckpt(["show", image, "--data", dir + "/x.bin"]).status, 64, "--data needs --record")
    }

    func testEveryJSONOutputCarriesItsFormatVersion() throws {
        for args in [["show", image, "--json"], ["show", image, "--record", "3", "--json"], ["list", dir, "--json"]] {
            let r = try ckpt(args)
            XCTAssertEqual(r.status, 0, r.all)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(args)")
            XCTAssertEqual(object["json_version"] as? Int, 1, "\(args)")
            XCTAssertTrue(r.stdout.hasPrefix("{\n  \"json_version\": 1,"), "first key: \(args)")
        }
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try ckpt(["show", image, "--record", "3", "--json"]).stdout.utf8)) as? [String: Any])
        XCTAssertEqual((record["record"] as? [String: Any])?["type"] as? String, "regs")
    }

    func testShowUnknownRecordIDIs1() throws {
        let r = try ckpt(["show", image, "--record", "99"])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.contains("no record with id 99 (ids 1 ... 12, 12 records)"), r.all)
    }

    func testShowByCridAndUnknownCrid() throws {
        XCTAssertEqual(try ckpt(["show", "7", "--dir", dir]).status, 0)
        let r = try ckpt(["show", "12345", "--dir", dir])
        XCTAssertEqual(r.status, 1, r.all)
        XCTAssertTrue(r.stderr.contains("no image for crid 12345 in \(dir)"), r.all)
    }

    func testShowErrors() throws {
        let missing = try ckpt(["show", dir + "/missing.ckpt"])
        XCTAssertEqual(missing.status, 74, missing.all)
        let b = fileBytes(image)
        writeBytes(image, Array(b[0..<(b.count - 30)]))
        let truncated = try ckpt(["show", image])
        XCTAssertEqual(truncated.status, 65, truncated.all)
        writeBytes(image, Array("not an image at all, just text".utf8))
        let garbage = try ckpt(["show", image])
        XCTAssertEqual(garbage.status, 65, garbage.all)
    }

    func testShowFailedCapture() throws {
        try writeFixtureImage(dir + "/8.failed", Array(fixtureRecords().prefix(7)), crid: 8, finish: false)
        try "crid 8 seq 40: sequence: gap, expected seq 39, got 40\n".write(toFile: dir + "/8.failed.reason", atomically: true, encoding: .utf8)
        let r = try ckpt(["show", dir + "/8.failed"])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("(incomplete)"), r.all)
        XCTAssertTrue(r.stdout.contains("reason: crid 8 seq 40: sequence: gap"), r.all)
        XCTAssertTrue(r.stdout.contains("7 sound records"), r.all)
        XCTAssertTrue(r.stdout.contains("#7 pages"), r.all)
    }

    // MARK: list

    func testListImagesAndFailedCaptures() throws {
        try writeFixtureImage(dir + "/9.ckpt", fixtureRecords(runs: 4, pagesPerRun: 8), crid: 9, pid: 77, captureNs: 1_764_386_000_000_000_000)
        try writeFixtureImage(dir + "/8.failed", Array(fixtureRecords().prefix(5)), crid: 8, pid: 55, finish: false)
        try "crid 8 seq 40: sequence: gap, expected seq 39, got 40\n".write(toFile: dir + "/8.failed.reason", atomically: true, encoding: .utf8)
        writeBytes(dir + "/10.ckpt", Array("damaged".utf8))
        let r = try ckpt(["list", dir])
        XCTAssertEqual(r.status, 0, r.all)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, r.stdout)
        XCTAssertTrue(lines[0].hasPrefix("CRID  PID   COMM     CAPTURED"), r.stdout)
        XCTAssertTrue(lines[1].hasPrefix("7     4242  ktarget  2025-11-29 03:25:16 UTC"), r.stdout)
        XCTAssertTrue(lines[1].hasSuffix("12       complete"), r.stdout)
        XCTAssertTrue(lines[2].hasPrefix("8     55    ktarget"), r.stdout)
        XCTAssertTrue(lines[2].hasSuffix("failed: crid 8 seq 40: sequence: gap, expected seq 39, got 40"), r.stdout)
        XCTAssertTrue(lines[3].hasPrefix("9     77"), r.stdout)
        XCTAssertTrue(lines[4].hasPrefix("10    ?"), r.stdout)
        XCTAssertTrue(lines[4].contains("damaged: "), r.stdout)

        let bySize = try ckpt(["list", dir, "--sort", "size"])
        XCTAssertEqual(bySize.stdout.split(separator: "\n").last.map { String($0.prefix(2)) }, "9 ")

        let json = try ckpt(["list", dir, "--json", "--sort", "time"])
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(document["json_version"] as? Int, 1)
        let items = try XCTUnwrap(document["images"] as? [[String: Any]])
        XCTAssertEqual(items.count, 4)
        XCTAssertEqual(items.compactMap { $0["state"] as? String }.sorted(), ["complete", "complete", "damaged", "failed"])
        let complete = items.first { $0["file"] as? String == "7.ckpt" }
        XCTAssertEqual(complete?["comm"] as? String, "ktarget")
        XCTAssertEqual(complete?["records"] as? Int, 12)
        XCTAssertEqual(complete?["pid"] as? Int, 4242)
    }

    func testListShowsAStreamInFlightAsPartial() throws {
        try writeFixtureImage(dir + "/11.partial", Array(fixtureRecords().prefix(4)), crid: 11, pid: 99, finish: false)
        let r = try ckpt(["list", dir])
        XCTAssertEqual(r.status, 0, r.all)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("11 ") })
        XCTAssertTrue(line.contains("  99  "), String(line))
        XCTAssertTrue(line.hasSuffix("4        partial: in flight, or left by a listener that stopped"), String(line))
    }

    func testListMissingDirectoryIs74() throws {
        let r = try ckpt(["list", dir + "/missing"])
        XCTAssertEqual(r.status, 74, r.all)
        XCTAssertTrue(r.stderr.contains("missing"), r.all)
    }

    func testBadSortIsUsage() throws {
        XCTAssertEqual(try ckpt(["list", dir, "--sort", "colour"]).status, 64)
    }
}

import CkptImage

/// Small direct reads of fixture images (offsets for the corruption tests).
enum CkptImageProbe {
    static func entry(_ path: String, id: UInt32) throws -> ImageIndexEntry {
        try XCTUnwrap(try ImageReader(path: path).entry(id: id))
    }
}
