#if canImport(Glibc)
import Glibc
#endif
@testable import CkptRestore
import XCTest

/// `Restorer.waitForStop`: the restore's wait for its new process to stop itself. It must
/// return once the child is stopped and leave that stop to be reported (the seize after it
/// waits for it), say at once when the child ends instead, and give up after its bound.
final class StubStopWaitTests: XCTestCase {
    var pid: pid_t = 0

    override func tearDown() { killAndReap(pid) }

    func spawn(_ script: String) {
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(script), nil]
        defer { for a in argv { free(a) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ), 0)
    }

    func testAStopIsSeenAndLeftToBeReported() throws {
        spawn("kill -STOP $$; exit 0")
        try Restorer.waitForStop(pid)
        // Not taken: a wait now still reports the stop (WNOWAIT), as the seize needs.
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, WUNTRACED | WNOHANG), pid)
        XCTAssertTrue(status & 0xff == 0x7f && (status >> 8) & 0xff == SIGSTOP, "status \(status)")
    }

    func testAnExitBeforeTheStopIsSaidAtOnceAndReaped() {
        spawn("exit 3")
        let started = Date()
        XCTAssertThrowsError(try Restorer.waitForStop(pid, timeoutMs: 10_000)) { error in
            XCTAssertEqual("\(error)", "the new process exited with status 3 before it stopped")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "waited for the bound, not the exit")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, WNOHANG), -1, "not reaped")
        XCTAssertEqual(errno, ECHILD)
        pid = 0
    }

    func testAKillBeforeTheStopIsSaid() {
        spawn("kill -TERM $$; sleep 5")
        XCTAssertThrowsError(try Restorer.waitForStop(pid, timeoutMs: 10_000)) { error in
            XCTAssertEqual("\(error)", "the new process was killed by signal \(SIGTERM) before it stopped")
        }
        pid = 0
    }

    func testOneThatNeverStopsIsKilledAfterTheBound() {
        spawn("sleep 30")
        let started = Date()
        XCTAssertThrowsError(try Restorer.waitForStop(pid, timeoutMs: 50)) { error in
            XCTAssertEqual("\(error)", "the new process did not stop within 50 ms")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, WNOHANG), -1, "killed and reaped")
        pid = 0
    }
}
