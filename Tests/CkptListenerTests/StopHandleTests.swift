#if canImport(Glibc)
import Glibc
#endif
@testable import CkptListener
import XCTest

/// The listener's stop pipe: not inherited by children, never blocks a requester.
final class StopHandleTests: XCTestCase {
    func testThePipeIsCloseOnExecAndNonBlocking() throws {
        let fd = try StopHandle().readEnd.rawValue  // the write end's flags show in the next test
        XCTAssertEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC)
        XCTAssertEqual(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK)
    }

    func testRequestsNeverBlockAndStayVisible() throws {
        let handle = try StopHandle()
        XCTAssertFalse(handle.isRequested)
        // More requests than a pipe holds (64 KiB): a blocking write end would hang here.
        for _ in 0..<70_000 { handle.requestStop() }
        XCTAssertTrue(handle.isRequested)
        XCTAssertTrue(handle.isRequested, "checking does not consume the request")
    }
}
