@testable import CkptCLI
import CkptProtocol
import XCTest

/// The checkpoint command's first line, which scripts and tools/bench/vs-criu-guest parse.
final class CheckpointLineTests: XCTestCase {
    private let summary = StreamSummary(records: 41, bytes: 4_280_116, checksum: 0x3A59_D546)

    /// The kernel's frozen-ns, in whole milliseconds, last; nothing when it stopped nothing.
    func testFrozenMillisecondsWhenTheKernelStoppedTheProcess() {
        XCTAssertEqual(CheckpointCommand.line(CheckpointReply(crid: 1, summary: summary, frozenNs: 36_999_999)),
                       "crid 1 records 41 bytes 4280116 checksum 0x3a59d546 frozen-ms 36")
        XCTAssertEqual(CheckpointCommand.line(CheckpointReply(crid: 1, summary: summary)),
                       "crid 1 records 41 bytes 4280116 checksum 0x3a59d546")
    }
}
