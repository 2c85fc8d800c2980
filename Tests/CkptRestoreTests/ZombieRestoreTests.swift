#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptImage
import CkptProtocol
@testable import CkptRestore
import Foundation
import XCTest

/// A tree's zombie made again inside a real parent stub (`Restorer.forkZombie`, `finishZombie`).
extension RemoteSyscallsTests {
    /// The zombie is the parent stub's child, a zombie at once, with the status its parent's
    /// wait reads (an exit code; a signal, without a core dumped for it even when the signal
    /// dumps core); the parent stub holds no SIGCHLD for it, and its wait reaps it.
    func testZombiesAreTheirParentsWithTheirStatus() throws {
        let builder = TreePlanTests()
        let (parentImage, p1) = try builder.image(10, parent: 1)
        defer { unlink(p1) }
        let plan = try RestorePlan(parentImage, shellJob: false)
        let restorer = Restorer(plan: plan, reader: parentImage, replayer: nil, options: .init(pids: .new, memory: .process))
        let parent = try restorer.start(step: { _ in })
        pid = parent.pid  // tearDown kills it
        // Cores allowed, so a zombie made by a signal that dumps core would dump one (and its
        // status say so) if finishZombie did not make it non-dumpable first.
        var core = ckpt_rlimit()
        XCTAssertEqual(ckpt_prlimit(0, Int32(RLIMIT_CORE.rawValue), nil, &core), 0)
        core.soft = core.hard
        XCTAssertEqual(ckpt_prlimit(parent.pid, Int32(RLIMIT_CORE.rawValue), &core, nil), 0)
        for (status, expected) in [(WaitStatus(5 << 8), UInt32(5 << 8)), (WaitStatus(15), 15), (WaitStatus(0x80 | 11), 11)] {
            let zombie = TreePlan.Zombie(pid: 30, ppid: 10, status: status)
            let made = try Restorer.finishZombie(try Restorer.forkZombie(zombie, placement: .init(), groupLeader: nil, from: parent,
                                                                        pids: .new))
            let stat = try XCTUnwrap(String(contentsOfFile: "/proc/\(made.pid)/stat", encoding: .utf8))
            let fields = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].split(whereSeparator: { $0 == " " || $0 == "\n" })
            XCTAssertEqual(fields[0], "Z", "\(status): \(stat)")
            XCTAssertEqual(fields[1], "\(parent.pid)", "\(status): the zombie's parent: \(stat)")
            XCTAssertEqual(UInt32(fields[49]), expected, "\(status): its exit_code: \(stat)")
            XCTAssertEqual(made.warnings.contains { $0.contains("is pid \(made.pid) now") }, true, "\(made.warnings)")
            XCTAssertEqual(made.warnings.contains { $0.contains("without the core flag") }, status.coreDumped, "\(made.warnings)")
            // No SIGCHLD pending in the parent stub (ShdPnd, SigPnd of /proc/PID/status).
            let proc = try String(contentsOfFile: "/proc/\(parent.pid)/status", encoding: .utf8)
            for line in proc.split(separator: "\n") where line.hasPrefix("ShdPnd") || line.hasPrefix("SigPnd") {
                let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) ?? 0
                XCTAssertEqual(mask & (1 << (UInt64(SIGCHLD) - 1)), 0, "\(status): \(line)")
            }
            // Its parent's wait reaps it (run inside the stub: only the parent may).
            let waited = try parent.remote.call("wait4", 61 /* SYS_wait4, x86_64 */, UInt64(made.pid), 0, UInt64(WNOHANG), 0)
            XCTAssertEqual(Int32(truncatingIfNeeded: waited), made.pid, "\(status)")
        }
    }
}
