import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptReplay
import CkptTransport
import SystemPackage
import XCTest

/// A kernel stand-in. What the kernel would queue on the socket goes into `socket` in
/// order and is handed out only when asked (`nextAnswer`), so the engine's windows are
/// visible: `outstandingAtSend` is how many requests were unanswered when each was sent.
///
/// In a direct session the session's writer is lazy: it runs only when the engine waits and
/// nothing else is on the socket, then writes everything queued and reports it with one
/// restart-written, as the kernel's writer does when its queue runs empty. So written
/// events are withheld until the engine blocks on its write window, and
/// `unwrittenAtSend` (pages fragments queued and not yet written, when each pages fragment
/// is sent, itself included) shows that window.
final class FakeRestartLink: RestartLink {
    var rsid: UInt32 = 77
    var beginError: TransportError?
    /// Reject the request carrying this session seq (CKPT_A_SEQ), with this errno and text.
    var rejectSeq: UInt32?
    var rejectMessage = "record 6: vma 0x700000-0x70c000 differs from the target's mapping"
    /// Direct sessions: the writer fails once it has this many pages fragments to write.
    var failWriterAtPagesFragment: Int?
    var writerFailure = (errno: Int32(5), message: "writing pages at 0x7f0000001000 failed")
    /// How restart-done ends a commit: nil, the records and bytes of the commit.
    var commitOutcome: RestartDone.Outcome?

    enum Item {
        case answer(RestartAnswer)
        case rejection(TransportError)
    }

    private(set) var beganWith: (pid: UInt32, flags: UInt32)?
    private(set) var fragments: [(seq: UInt32, id: UInt32, offset: UInt64, dataCount: Int, meta: [UInt8]?)] = []
    private(set) var outstandingAtSend: [Int] = []
    private(set) var unwrittenAtSend: [Int] = []
    /// Each fragment's type, parent and data, in the order sent.
    private(set) var sent: [(type: RecordType, parent: UInt32, data: [UInt8])] = []
    private(set) var committed: (seq: UInt32, summary: StreamSummary)?
    private(set) var aborted: [UInt32] = []
    private(set) var summary = StreamSummaryBuilder()
    /// Answers taken after the commit was accepted (the engine waiting for restart-done).
    private(set) var answersAfterCommit = 0
    /// What the kernel queued on the socket, oldest first.
    private(set) var socket: [Item] = []
    /// Pages fragments queued for the writer: session seq and bytes.
    private var writerQueue: [(seq: UInt32, bytes: Int)] = []
    private var pagesFragmentsQueued = 0
    private var bytesWritten: UInt64 = 0
    private var failedBecause: String?
    private var nextRequestSeq: UInt32 = 1000

    /// Direct and not validate-only: the kernel queues pages fragments for its writer.
    var queuesWrites: Bool {
        let flags = beganWith?.flags ?? 0
        return flags & UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue) != 0
            && flags & UInt32(CKPT_RESTART_FLAGS_VALIDATE_ONLY.rawValue) == 0
    }

    func begin(pid: UInt32, flags: UInt32) throws(TransportError) -> UInt32 {
        if let beginError { throw beginError }
        beganWith = (pid, flags)
        return rsid
    }

    func sendRecord(rsid: UInt32, _ f: RecordFragment) throws(TransportError) -> UInt32 {
        XCTAssertEqual(rsid, self.rsid)
        XCTAssertEqual(f.crid, UInt64(rsid))
        XCTAssertNil(committed, "a record after the commit")
        outstandingAtSend.append(socket.count { if case .answer(.ack) = $0 { true } else if case .rejection = $0 { true } else { false } })
        fragments.append((f.seq, f.id, f.dataOffset, f.data.count, f.meta.map(Array.init)))
        sent.append((f.type, f.parent, Array(f.data)))
        if let meta = f.meta { summary.beginRecord(meta: meta) }
        summary.data(f.data)
        nextRequestSeq += 1
        if let failedBecause {
            socket.append(.rejection(.kernel(errno: .invalidArgument, message: "the restart session failed earlier: \(failedBecause)",
                                             attributeOffset: nil, requestSeq: nextRequestSeq)))
        } else if f.seq == rejectSeq {
            socket.append(.rejection(.kernel(errno: .invalidArgument, message: rejectMessage, attributeOffset: 40,
                                             requestSeq: nextRequestSeq)))
        } else {
            if queuesWrites, f.type == .pages, !f.data.isEmpty {
                writerQueue.append((f.seq, f.data.count))
                pagesFragmentsQueued += 1
                unwrittenAtSend.append(writerQueue.count)
            }
            socket.append(.answer(.ack(requestSeq: nextRequestSeq)))
        }
        return nextRequestSeq
    }

    func nextAnswer() throws(TransportError) -> RestartAnswer {
        if socket.isEmpty { runWriter() }
        guard !socket.isEmpty else {
            XCTFail("nextAnswer with nothing outstanding")
            throw .timedOut("nothing outstanding")
        }
        if committed != nil { answersAfterCommit += 1 }
        switch socket.removeFirst() {
        case let .answer(a): return a
        case let .rejection(e): throw e
        }
    }

    /// Writes what is queued and reports it (restart-written), or fails the session
    /// (restart-done with nlmsg_seq 0) when `failWriterAtPagesFragment` is reached.
    private func runWriter() {
        guard failedBecause == nil, let last = writerQueue.last else { return }
        if let n = failWriterAtPagesFragment, pagesFragmentsQueued >= n {
            failedBecause = writerFailure.message
            writerQueue.removeAll()
            socket.append(.answer(.done(RestartDone(rsid: rsid, outcome: .failed(errno: writerFailure.errno,
                                                                                 message: writerFailure.message)))))
            return
        }
        bytesWritten += UInt64(writerQueue.reduce(0) { $0 + $1.bytes })
        writerQueue.removeAll()
        socket.append(.answer(.written(seq: last.seq, bytes: bytesWritten)))
    }

    func commit(rsid: UInt32, seq: UInt32, summary: StreamSummary) throws(TransportError) -> RestartCommitReply {
        XCTAssertFalse(socket.contains { if case .answer(.ack) = $0 { true } else { false } },
                       "commit before every record was acknowledged")
        if let failedBecause {
            throw .kernel(errno: .invalidArgument, message: "the restart session failed earlier: \(failedBecause)",
                          attributeOffset: nil, requestSeq: nextRequestSeq + 1)
        }
        committed = (seq, summary)
        let accepted = RestartCommitReply(records: summary.records, bytes: summary.bytes)
        // The reply first; the writer finishes after it.
        runWriter()
        if failedBecause == nil {
            socket.append(.answer(.done(RestartDone(rsid: rsid, outcome: commitOutcome ?? .completed(accepted)))))
        }
        return accepted
    }

    func abort(rsid: UInt32) { aborted.append(rsid) }
}

final class ReplayEngineTests: XCTestCase {
    var dir = ""
    var path = ""
    /// 2 runs of 40 pages: 160 KiB each, 3 fragments of at most 65,531 bytes.
    let records = fixtureRecords(runs: 2, pagesPerRun: 40)

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        path = dir + "/7.ckpt"
        try writeFixtureImage(path, records)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Fragments the image takes: one per record without data, ceil(data / 65531) otherwise.
    var expectedFragments: Int {
        records.reduce(0) { $0 + ($1.data.isEmpty ? 1 : ($1.data.count + 65530) / 65531) }
    }

    func testWindowKeepsAtMostNOutstandingAndPipelines() throws {
        let link = FakeRestartLink()
        let result = try RestartReplayer(link: link, window: 4).replay(ImageReader(path: path), pid: 4242)
        XCTAssertEqual(link.fragments.count, expectedFragments)
        XCTAssertEqual(link.outstandingAtSend.max(), 3, "a send happens with window-1 outstanding, never more")
        XCTAssertEqual(result.peakOutstanding, 4)
        XCTAssertEqual(Array(link.outstandingAtSend.prefix(4)), [0, 1, 2, 3], "no round trip per message")
        XCTAssertEqual(link.fragments.map(\.seq), (0..<UInt32(expectedFragments)).map { $0 })
        XCTAssertEqual(link.committed?.seq, UInt32(expectedFragments), "commit carries the next session seq")
        XCTAssertEqual(link.committed?.summary, link.summary.summary, "commit totals are over the bytes sent")
        XCTAssertEqual(result.summary.records, UInt64(records.count))
        XCTAssertEqual(result.fragments, UInt64(expectedFragments))
        XCTAssertEqual(link.beganWith?.pid, 4242)
        XCTAssertEqual(link.beganWith?.flags, 0)
        XCTAssertTrue(link.aborted.isEmpty)
    }

    func testWindowOfOneIsStopAndWait() throws {
        let link = FakeRestartLink()
        let result = try RestartReplayer(link: link, window: 1).replay(ImageReader(path: path), pid: 1)
        XCTAssertEqual(Set(link.outstandingAtSend), [0])
        XCTAssertEqual(result.peakOutstanding, 1)
    }

    func testLargeWindowSendsEverythingBeforeWaiting() throws {
        let link = FakeRestartLink()
        _ = try RestartReplayer(link: link, window: 4096).replay(ImageReader(path: path), pid: 1)
        XCTAssertEqual(link.outstandingAtSend, Array(0..<expectedFragments))
    }

    /// The walk and the sender run on two threads with `pipeDepth` fragments between them:
    /// any depth sends the same fragments in the same order, and the commit's checksum
    /// (built from CRCs combined as the walk checks the image) equals the one the link
    /// computes over the bytes it was sent.
    func testPipeDepthDoesNotChangeWhatIsSent() throws {
        var sent: [[UInt32]] = []
        for depth in [1, 2, 8] {
            let link = FakeRestartLink()
            _ = try RestartReplayer(link: link, window: 3, pipeDepth: depth).replay(ImageReader(path: path), pid: 1)
            XCTAssertEqual(link.committed?.summary, link.summary.summary, "depth \(depth)")
            XCTAssertEqual(link.fragments.count, expectedFragments, "depth \(depth)")
            sent.append(link.fragments.map(\.id))
        }
        XCTAssertEqual(sent[0], sent[1])
        XCTAssertEqual(sent[0], sent[2])
    }

    /// A local image is sent from its mapping (each fragment's data a view of the file, no
    /// copy into the pipe's slots) and an image that cannot be mapped from the slots: the
    /// kernel sees the same fragments, bytes and commit either way.
    func testMappedAndReadImagesSendTheSameBytes() throws {
        var runs: [FakeRestartLink] = []
        for mappable in [true, false] {
            let source = try LocalImageBytes(path: path, mappable: mappable)
            let link = FakeRestartLink()
            _ = try RestartReplayer(link: link, window: 3, pipeDepth: 2).replay(ImageReader(source: source), pid: 1)
            XCTAssertEqual(source.mapping() != nil, mappable)
            runs.append(link)
        }
        XCTAssertEqual(runs[0].fragments.count, expectedFragments)
        XCTAssertEqual(runs[0].sent.map(\.data), runs[1].sent.map(\.data))
        XCTAssertEqual(runs[0].fragments.map(\.id), runs[1].fragments.map(\.id))
        XCTAssertEqual(runs[0].committed?.summary, runs[1].committed?.summary)
        XCTAssertEqual(runs[0].committed?.summary, runs[0].summary.summary)
        XCTAssertEqual(runs[0].sent.map(\.data), records.flatMap { r in
            r.data.isEmpty ? [[]] : stride(from: 0, to: r.data.count, by: 65531).map { Array(r.data[$0..<min($0 + 65531, r.data.count)]) }
        }, "every fragment's bytes are the image's")
    }

    func testFragmentsCarryMetaOnceAndTileTheData() throws {
        let link = FakeRestartLink()
        _ = try RestartReplayer(link: link, window: 8).replay(ImageReader(path: path), pid: 1)
        for r in records {
            let frags = link.fragments.filter { $0.id == r.id }
            XCTAssertNotNil(frags.first?.meta, "record \(r.id): first fragment has meta")
            XCTAssertTrue(frags.dropFirst().allSatisfy { $0.meta == nil }, "record \(r.id): meta only once")
            var offset: UInt64 = 0
            for f in frags {
                XCTAssertEqual(f.offset, offset)
                XCTAssertLessThanOrEqual(f.dataCount, Int(CKPT_DATA_MAX))
                offset += UInt64(f.dataCount)
            }
            XCTAssertEqual(offset, UInt64(r.data.count))
        }
    }

    func testMetaIsReencodedWithoutPadAttributes() throws {
        let link = FakeRestartLink()
        _ = try RestartReplayer(link: link, window: 8).replay(ImageReader(path: path), pid: 1)
        let vmaMeta = try XCTUnwrap(link.fragments.first { $0.id == 5 }?.meta)
        XCTAssertNotEqual(vmaMeta, records[4].meta, "the image's meta has pads before u64s")
        var at = 0
        while at + 4 <= vmaMeta.count {
            let len = Int(vmaMeta[at]) | Int(vmaMeta[at + 1]) << 8
            let type = Int(vmaMeta[at + 2]) | Int(vmaMeta[at + 3]) << 8
            XCTAssertNotEqual(type, Int(CKPT_A_META_PAD))
            at += (len + 3) & ~3
        }
        let decoded = try vmaMeta.withUnsafeBytes { try RecordMeta(type: .vma, payload: $0) }
        let original = try records[4].meta.withUnsafeBytes { try RecordMeta(type: .vma, payload: $0) }
        XCTAssertEqual(decoded, original)
    }

    func testValidateOnlySetsTheFlag() throws {
        let link = FakeRestartLink()
        _ = try RestartReplayer(link: link).replay(ImageReader(path: path), pid: 9, validateOnly: true)
        XCTAssertEqual(link.beganWith?.flags, UInt32(CKPT_RESTART_FLAGS_VALIDATE_ONLY.rawValue))
    }

    func testRejectionAbortsTheSessionAndNamesTheRecord() throws {
        let link = FakeRestartLink()
        link.rejectSeq = 5  // the sixth message: record 6 (vma), one fragment per record before it
        XCTAssertThrowsError(try RestartReplayer(link: link, window: 4).replay(ImageReader(path: path), pid: 1)) { error in
            XCTAssertEqual(error as? ReplayError, .rejected(stage: .record, recordID: 6, errno: .invalidArgument,
                                                            message: link.rejectMessage))
            XCTAssertTrue("\(error)".contains("restart-record of record 6: EINVAL: record 6: vma"), "\(error)")
        }
        XCTAssertEqual(link.aborted, [77])
        XCTAssertNil(link.committed)
        XCTAssertLessThanOrEqual(link.fragments.count, 6 + 4, "stops sending within a window of the rejection")
    }

    func testDamagedRecordMidWalkAbortsTheSession() throws {
        var bytes = fileBytes(path)
        let e = try CkptImageProbe.entry(path, id: 8)
        bytes[Int(e.dataOffset) + 3] ^= 1
        writeBytes(path, bytes)
        let link = FakeRestartLink()
        XCTAssertThrowsError(try RestartReplayer(link: link, window: 2).replay(ImageReader(path: path), pid: 1)) { error in
            guard case let .image(imageError)? = error as? ReplayError else { return XCTFail("\(error)") }
            XCTAssertEqual(imageError.recordID, 8)
        }
        XCTAssertEqual(link.aborted, [77])
        XCTAssertNil(link.committed, "nothing is committed after a damaged record")
    }

    func testBeginRejectedSendsNothing() throws {
        let link = FakeRestartLink()
        link.beginError = .kernel(errno: .noSuchProcess, message: "no such pid", attributeOffset: nil, requestSeq: 1)
        XCTAssertThrowsError(try RestartReplayer(link: link).replay(ImageReader(path: path), pid: 999_999)) { error in
            XCTAssertEqual(error as? ReplayError, .rejected(stage: .begin, recordID: nil, errno: .noSuchProcess, message: "no such pid"))
        }
        XCTAssertTrue(link.fragments.isEmpty)
        XCTAssertTrue(link.aborted.isEmpty)
    }

    func testStreamReplayerEmitsBeginRecordsEnd() throws {
        var messages: [[UInt8]] = []
        let replayer = StreamReplayer { (bytes) throws(TransportError) in messages.append(Array(bytes)) }
        let result = try replayer.replay(ImageReader(path: path), crid: 99)
        XCTAssertEqual(result.crid, 99)
        XCTAssertEqual(messages.count, expectedFragments + 2)
        XCTAssertEqual(result.messages, UInt64(messages.count))
        XCTAssertEqual(result.summary, fixtureSummary(records), "meta verbatim: the image's own checksum")
        func command(_ m: [UInt8]) -> Int { Int(m[16]) }
        XCTAssertEqual(command(messages.first!), Int(CKPT_CMD_STREAM_BEGIN))
        XCTAssertEqual(command(messages.last!), Int(CKPT_CMD_STREAM_END))
        XCTAssertTrue(messages.dropFirst().dropLast().allSatisfy { command($0) == Int(CKPT_CMD_RECORD) })
        XCTAssertTrue(messages.allSatisfy { Int($0[4]) | Int($0[5]) << 8 == Int(CKPT_USERSOCK_TYPE) })
    }
}
