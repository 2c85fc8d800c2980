#if canImport(Glibc)
import Glibc
#endif
@testable import CkptListener
import XCTest

/// The listener's stop pipe: not inherited by children, never blocks a requester.
final class StopHandleTests: XCTestCase {
    func testThePipeIsCloseOnExecAndNonBlocking() throws {
        let handle = try StopHandle()  // the write end's O_NONBLOCK shows in the next test
        let fd = handle.readEnd.rawValue
        let fdFlags = fcntl(fd, F_GETFD), statusFlags = fcntl(fd, F_GETFL)
        XCTAssertGreaterThanOrEqual(fdFlags, 0)
        XCTAssertGreaterThanOrEqual(statusFlags, 0)
        XCTAssertEqual(fdFlags & FD_CLOEXEC, FD_CLOEXEC)
        XCTAssertEqual(statusFlags & O_NONBLOCK, O_NONBLOCK)
        withExtendedLifetime(handle) {}
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
