import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptReplay
import Foundation
import XCTest

/// A checkpoint taken after a pre-copy, streamed back with its parent: the parent-pages
/// records become the pre-copy's pages (`ImageFragments.walk(parent:)`).
final class PreCopyReplayTests: XCTestCase {
    var dir = ""
    let page = 4096
    let base: UInt64 = 0x70_0000
    /// The pre-copy: fixtureRecords' two runs of 40 pages (at base and base + 80 pages).
    lazy var parentRecords: [FixtureRecord] = {
        var r = fixtureRecords(runs: 2, pagesPerRun: 40, seed: 1)
        r[0].meta = RecordMeta.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 1,
                                                 checkpointFlags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue)))
            .encodedPayload(padded: true)
        return r
    }()
    let written = [UInt8](repeating: 0xAB, count: 5 * 4096)

    override func setUpWithError() throws { dir = try makeTemporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func meta(_ m: RecordMeta) -> [UInt8] { m.encodedPayload(padded: true) }

    /// The checkpoint: the pre-copy's records up to vma 6, then pages 0-9 in the parent,
    /// 10-14 written (0xAB), 15-39 and the second run in the parent; the rest as before.
    func childRecords(parentCrid: UInt64 = 7, secondRunAt: UInt64? = nil) -> [FixtureRecord] {
        var r = Array(parentRecords.prefix(6))
        r[0].meta = meta(.header(HeaderMeta(arch: "x86_64", pageSize: 4096, release: "6.12.0-test", timeNs: 2,
                                            parentCrid: parentCrid)))
        let p = UInt64(page)
        r.append(FixtureRecord(type: .parentPages, id: 7, parent: 6, meta: meta(.parentPages(PagesMeta(addr: base, nrPages: 10)))))
        r.append(FixtureRecord(type: .pages, id: 8, parent: 6, meta: meta(.pages(PagesMeta(addr: base + 10 * p, nrPages: 5))),
                               data: written))
        r.append(FixtureRecord(type: .parentPages, id: 9, parent: 6, meta: meta(.parentPages(PagesMeta(addr: base + 15 * p, nrPages: 25)))))
        r.append(FixtureRecord(type: .parentPages, id: 10, parent: 6,
                               meta: meta(.parentPages(PagesMeta(addr: secondRunAt ?? base + 80 * p, nrPages: 40)))))
        var id: UInt32 = 11
        for old in parentRecords where old.type == .vma && old.id > 6 || old.type == .file {
            var x = old
            x.id = id
            x.parent = old.type == .vma ? 4 : 2
            r.append(x)
            id += 1
        }
        r.append(FixtureRecord(type: .trailer, id: id, parent: 0, meta: meta(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 3, nrPagesTotal: 5, nrFiles: 2)))))
        return r
    }

    func images(_ child: [FixtureRecord]) throws -> (child: ImageReader, parent: ImageReader) {
        try writeFixtureImage(dir + "/7.ckpt", parentRecords, crid: 7)
        try writeFixtureImage(dir + "/8.ckpt", child, crid: 8)
        return (try ImageReader(path: dir + "/8.ckpt"), try ImageReader(path: dir + "/7.ckpt"))
    }

    func testParentPagesAreSentFromThePreCopy() throws {
        let (child, parent) = try images(childRecords())
        let link = FakeRestartLink()
        let result = try RestartReplayer(link: link, window: 4).replay(child, pid: 1, parent: parent)
        XCTAssertEqual(link.committed?.summary, result.summary)
        XCTAssertEqual(result.summary, link.summary.summary, "the commit's numbers are over what was sent")

        // Ids ascend with no gap; every pages record's parent is the new id of the vma.
        var firstOfRecord: [UInt32: Int] = [:]
        for (i, f) in link.fragments.enumerated() where firstOfRecord[f.id] == nil { firstOfRecord[f.id] = i }
        let ids = firstOfRecord.keys.sorted()
        XCTAssertEqual(ids, Array(1...UInt32(ids.count)))
        XCTAssertFalse(link.sent.contains { $0.type == .parentPages }, "no parent-pages record reaches the kernel")

        // Memory as the kernel would write it: the pre-copy's bytes where the checkpoint
        // points at it, the checkpoint's own where it has data.
        let run0 = parentRecords.first { $0.type == .pages }!.data
        let run1 = parentRecords.filter { $0.type == .pages }[1].data
        var memory: [UInt64: [UInt8]] = [:]
        var vmaIDs = Set<UInt32>()
        var current: (addr: UInt64, bytes: [UInt8])?
        for (f, s) in zip(link.fragments, link.sent) {
            if let m = f.meta {
                if let c = current { memory[c.addr] = c.bytes }
                current = nil
                let decoded = try m.withUnsafeBytes { try RecordMeta(type: s.type, payload: $0) }
                if case let .pages(p) = decoded { current = (p.addr, []); vmaIDs.insert(s.parent) }
                if case let .trailer(t) = decoded { XCTAssertEqual(t.nrPagesTotal, 80, "5 written + 75 from the parent") }
            }
            current?.bytes += s.data
        }
        if let c = current { memory[c.addr] = c.bytes }
        XCTAssertEqual(vmaIDs.count, 1)
        var flat = [UInt8]()
        for addr in memory.keys.sorted() where addr < base + 80 * UInt64(page) { flat += memory[addr]! }
        let expected = Array(run0[0..<(10 * page)]) + written + Array(run0[(15 * page)...])
        XCTAssertEqual(flat.count, expected.count)
        XCTAssertTrue(flat == expected, "pages 0-39: the parent's, the written five, the parent's")
        XCTAssertEqual(memory[base + 80 * UInt64(page)], run1)
    }

    /// The pre-copy's pages are views of its mapping, or read when it cannot be mapped: the
    /// kernel is sent the same fragments either way.
    func testMappedAndReadPreCopiesSendTheSameBytes() throws {
        _ = try images(childRecords())
        var sent: [[[UInt8]]] = []
        for mappable in [true, false] {
            let link = FakeRestartLink()
            let open = { (crid: Int) in try ImageReader(source: LocalImageBytes(path: self.dir + "/\(crid).ckpt", mappable: mappable)) }
            let result = try RestartReplayer(link: link, window: 4, pipeDepth: 2).replay(open(8), pid: 1, parent: open(7))
            XCTAssertEqual(result.summary, link.summary.summary)
            sent.append(link.sent.map(\.data))
        }
        XCTAssertGreaterThan(sent[0].count, 5)
        XCTAssertEqual(sent[0], sent[1])
    }

    /// Both images are ordinary images to the image layer: they verify on their own.
    func testBothImagesVerify() throws {
        _ = try images(childRecords())
        for name in ["7", "8"] { XCTAssertNoThrow(try verifyImage(path: dir + "/\(name).ckpt")) }
    }

    /// `ckpt list` and `ckpt show` say which image is the pre-copy and which needs it.
    func testListAndShowNameThePair() throws {
        _ = try images(childRecords())
        let list = try ckpt(["list", dir])
        XCTAssertEqual(list.status, 0, list.all)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("7 ") && $0.hasSuffix("complete (pre-copy: restore the image taken after it)") },
                      list.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("8 ") && $0.hasSuffix("complete (needs pre-copy 7)") }, list.stdout)
        let json = try ckpt(["list", dir, "--json"])
        XCTAssertTrue(json.stdout.contains("\"pre_copy\": true") && json.stdout.contains("\"parent_crid\": 7"), json.stdout)
        let show = try ckpt(["show", dir + "/8.ckpt"])
        XCTAssertEqual(show.status, 0, show.all)
        XCTAssertTrue(show.stdout.contains("parent crid 7"), show.stdout)
        XCTAssertTrue(show.stdout.contains(" parent-pages ") && show.stdout.contains("in the parent image"), show.stdout)
    }

    func testAPageThePreCopyDoesNotHoldFailsTheRestore() throws {
        // The second run asked 50 pages after where the pre-copy has it: its pages 130-159
        // are in the pre-copy's anonymous vma (pages of zeros it left out), 160 is past
        // every vma of the pre-copy.
        let (child, parent) = try images(childRecords(secondRunAt: base + 130 * 4096))
        let link = FakeRestartLink()
        XCTAssertThrowsError(try RestartReplayer(link: link).replay(child, pid: 1, parent: parent)) { error in
            guard case let .parentMissing(id, address, path)? = error as? ReplayError else { return XCTFail("\(error)") }
            XCTAssertEqual(id, 10)
            XCTAssertEqual(address, base + 160 * 4096)
            XCTAssertEqual(path, parent.path)
        }
        XCTAssertEqual(link.aborted, [link.rsid])
        XCTAssertNil(link.committed)
    }

    /// A pre-copy leaves out its anonymous mappings' pages of zeros (checkpoint.c
    /// `ckpt_emit_data`): a parent-pages record over such a gap sends the pages the
    /// pre-copy holds on either side and nothing for the gap, which the fresh mapping of
    /// a restore reads as zeros. (Outside an anonymous mapping a gap is missing: above.)
    func testPagesOfZerosThePreCopyLeftOutAreNotSent() throws {
        let p = UInt64(page)
        var child = childRecords()
        // Pages 30-89 of vma 6 in one record: 30-39 in the pre-copy's first run, 40-79 left
        // out, 80-89 in its second run.
        child.removeAll { [7, 8, 9, 10].contains($0.id) }
        child.insert(FixtureRecord(type: .parentPages, id: 7, parent: 6, meta: meta(.parentPages(PagesMeta(addr: base + 30 * p, nrPages: 60)))),
                     at: 6)
        for i in child.indices where child[i].id > 10 { child[i].id -= 3 }
        child[child.count - 1].meta = meta(.trailer(TrailerMeta(nrThreads: 1, nrVMAs: 3, nrPagesTotal: 0, nrFiles: 2)))
        let (reader, parent) = try images(child)
        let link = FakeRestartLink()
        let result = try RestartReplayer(link: link, window: 4).replay(reader, pid: 1, parent: parent)
        XCTAssertEqual(result.summary, link.summary.summary)
        var runs: [(addr: UInt64, bytes: [UInt8])] = []
        for (f, s) in zip(link.fragments, link.sent) where s.type == .pages {
            if let m = f.meta, case let .pages(pm) = try m.withUnsafeBytes({ try RecordMeta(type: .pages, payload: $0) }) {
                runs.append((pm.addr, []))
            }
            runs[runs.count - 1].bytes += s.data
        }
        let run0 = parentRecords.filter { $0.type == .pages }[0].data
        let run1 = parentRecords.filter { $0.type == .pages }[1].data
        XCTAssertEqual(runs.map(\.addr), [base + 30 * p, base + 80 * p])
        XCTAssertTrue(runs.count == 2 && runs[0].bytes == Array(run0[(30 * page)...]) && runs[1].bytes == Array(run1[..<(10 * page)]))
    }

    func testWithoutItsParentTheImageIsRefusedByName() throws {
        let (child, _) = try images(childRecords(parentCrid: 7))
        let link = FakeRestartLink()
        XCTAssertThrowsError(try RestartReplayer(link: link).replay(child, pid: 1)) { error in
            XCTAssertEqual(error as? ReplayError, .noParent(parentCrid: 7))
        }
        XCTAssertNil(link.committed)
    }
}
