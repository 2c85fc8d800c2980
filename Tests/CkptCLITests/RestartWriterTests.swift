import CCkptUAPI
import CkptImage
import CkptProtocol
@testable import CkptReplay
import CkptTransport
import SystemPackage
import XCTest

/// The kernel's session writer seen from the engine: the write window of a direct session
/// (restart-written), and restart-done, both mid-stream and after the commit.
final class RestartWriterTests: XCTestCase {
    var dir = ""
    var path = ""
    /// 2 runs of 40 pages: 80 pages fragments of one page each with `maxData` 4096.
    let records = fixtureRecords(runs: 2, pagesPerRun: 40)
    let pagesFragments = 80

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
        path = dir + "/7.ckpt"
        try writeFixtureImage(path, records)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func replayer(_ link: FakeRestartLink, window: Int = 8, writeWindow: Int) -> RestartReplayer {
        RestartReplayer(link: link, window: window, writeWindow: writeWindow, maxData: 4096)
    }

    /// The fake's writer reports only when the engine waits with nothing else to read: the
    /// engine must stop at `writeWindow` unwritten pages fragments, then go on once told.
    func testDirectReplayKeepsAtMostWriteWindowPagesFragmentsUnwritten() throws {
        let link = FakeRestartLink()
        let result = try replayer(link, writeWindow: 5).replay(ImageReader(path: path), pid: 1, direct: true)
        XCTAssertEqual(link.beganWith?.flags, UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue))
        XCTAssertEqual(link.unwrittenAtSend.count, pagesFragments, "every pages fragment was sent")
        XCTAssertEqual(link.unwrittenAtSend.max(), 5, "never more than writeWindow queued for the writer")
        XCTAssertEqual(result.peakUnwritten, 5)
        XCTAssertEqual(link.committed?.summary, link.summary.summary)
        XCTAssertTrue(link.aborted.isEmpty)
    }

    /// Without DIRECT the kernel stages pages and reports no writes: the write window does
    /// not apply (a window of 1 would otherwise wait forever for restart-written).
    func testStagedReplayIgnoresTheWriteWindow() throws {
        let link = FakeRestartLink()
        let result = try replayer(link, window: 4096, writeWindow: 1).replay(ImageReader(path: path), pid: 1)
        XCTAssertEqual(link.outstandingAtSend, Array(0..<link.fragments.count))
        XCTAssertEqual(result.peakUnwritten, 0)
        XCTAssertNotNil(link.committed)
    }

    /// Direct and validate-only: the kernel queues nothing for its writer and reports no
    /// writes, so the engine must not wait for them.
    func testDirectValidateOnlyDoesNotWaitForWrites() throws {
        let link = FakeRestartLink()
        let result = try replayer(link, writeWindow: 1).replay(ImageReader(path: path), pid: 1, validateOnly: true, direct: true)
        XCTAssertEqual(link.beganWith?.flags, UInt32(CKPT_RESTART_FLAGS_DIRECT.rawValue | CKPT_RESTART_FLAGS_VALIDATE_ONLY.rawValue))
        XCTAssertEqual(result.peakUnwritten, 0)
        XCTAssertNotNil(link.committed)
    }

    /// The writer fails mid-stream (restart-done with an errno, nlmsg_seq 0); requests after
    /// it would be rejected with "the restart session failed earlier": the replay stops with
    /// the writer's own errno and reason instead.
    func testWriterFailureMidStreamStopsTheReplayWithTheKernelsReason() throws {
        let link = FakeRestartLink()
        link.failWriterAtPagesFragment = 10
        XCTAssertThrowsError(try replayer(link, writeWindow: 4).replay(ImageReader(path: path), pid: 1, direct: true)) { error in
            XCTAssertEqual(error as? ReplayError, .rejected(stage: .record, recordID: nil, errno: .ioError,
                                                            message: "writing pages at 0x7f0000001000 failed"))
            XCTAssertTrue("\(error)".contains("EIO: writing pages at 0x7f0000001000 failed"), "\(error)")
        }
        XCTAssertEqual(link.aborted, [77])
        XCTAssertNil(link.committed)
        XCTAssertLessThan(link.unwrittenAtSend.count, pagesFragments, "stopped sending at the failure")
    }

    /// The commit's reply only says it was accepted: the replay returns once restart-done
    /// came, with its numbers.
    func testCommitWaitsForRestartDoneAndReturnsItsNumbers() throws {
        for direct in [false, true] {
            let link = FakeRestartLink()
            let done = RestartCommitReply(records: 19, bytes: 327_680)
            link.commitOutcome = .completed(done)
            let result = try replayer(link, writeWindow: 64).replay(ImageReader(path: path), pid: 1, direct: direct)
            XCTAssertEqual(result.reply, done, "direct \(direct)")
            XCTAssertNotEqual(result.reply.bytes, link.committed?.summary.bytes, "not the commit reply's numbers")
            // Direct: the writer's last restart-written, then restart-done.
            XCTAssertEqual(link.answersAfterCommit, direct ? 2 : 1, "direct \(direct)")
            XCTAssertTrue(link.socket.isEmpty, "direct \(direct)")
        }
    }

    /// The writer fails after the commit was accepted: the replay fails at the commit, with
    /// the writer's errno and reason.
    func testWriterFailureAfterTheCommitThrowsAtCommit() throws {
        for direct in [false, true] {
            let link = FakeRestartLink()
            link.commitOutcome = .failed(errno: 14, message: "writing pages at 0x700000 failed")
            XCTAssertThrowsError(try replayer(link, writeWindow: 64).replay(ImageReader(path: path), pid: 1, direct: direct)) { error in
                XCTAssertEqual(error as? ReplayError, .rejected(stage: .commit, recordID: nil, errno: .badAddress,
                                                                message: "writing pages at 0x700000 failed"))
                XCTAssertTrue("\(error)".contains("restart-commit: EFAULT: writing pages at 0x700000 failed"), "\(error)")
            }
            XCTAssertNotNil(link.committed)
        }
    }

    /// A restart-done reporting a finished commit before any commit was sent breaks the
    /// protocol.
    func testRestartDoneOfACommitBeforeTheCommitIsAProtocolViolation() {
        let error = RestartReplayer.endedEarly(RestartDone(rsid: 1, outcome: .completed(RestartCommitReply(records: 1, bytes: 1))))
        guard case .transport(.record, .protocolViolation) = error else { return XCTFail("\(error)") }
    }
}
