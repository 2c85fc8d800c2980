import CkptProtocol
import CkptSystem
import Foundation
import Logging
import XCTest
@testable import CkptListener

/// `SinkOp` is plain bytes (`BitwiseCopyable`, checked by the compiler), so what is not
/// travels beside it: the host comes from the sink, a failure is parked with the sink by
/// `failOp` and taken when its op runs. Each must still arrive where it did when the ops
/// carried them.
final class SinkOpTests: XCTestCase {
    func testTheImageGetsTheSinksHostAndEachFailureArrivesOnce() throws {
        for writer in ImageSink.Writer.allCases {
            let directory = try ImageDirectory(path: try makeTemporaryDirectory())
            let infos = Recorded<String>()
            let settled = Recorded<String>()
            let sink = ImageSink(
                directory: directory, pool: BufferPool(count: 4, size: 4096), logger: Logger(label: "test"),
                host: "capture-host",
                makeWriter: { fd, info in
                    infos.add("\(info.crid) \(info.pid) \(info.captureStartNs) \(info.host)")
                    return try ImageWriters.standard(fd, info)
                },
                onSettled: { s in
                    if case let .failed(_, failure) = s.outcome {
                        settled.add("\(s.session.map(String.init) ?? "-") \(failure.crid) \(failure.rule)")
                    }
                },
                onWriterFailure: { _ in }, writer: writer)
            sink.start()
            sink.submit(.open(session: 1, stream: StreamStart(crid: 81, pid: 4242, captureStartNs: 1_700_000_000_123)))
            sink.submit(sink.failOp(session: 1, StreamFailure(crid: 81, seq: 5, recordID: 2, rule: .malformed("first"))))
            sink.submit(sink.failOp(session: nil, StreamFailure(crid: 82, seq: 3, recordID: nil, rule: .unknownStream)))
            XCTAssertEqual(sink.parkedFailures, 2, "\(writer)")
            sink.flush()
            sink.stop()
            XCTAssertEqual(infos.values, ["81 4242 1700000000123 capture-host"], "\(writer)")
            XCTAssertEqual(settled.values.sorted(), ["- 82 \(FailureRule.unknownStream)", "1 81 \(FailureRule.malformed("first"))"],
                           "\(writer)")
            XCTAssertEqual(sink.parkedFailures, 0, "\(writer): every parked failure taken")
        }
    }
}
