@testable import CkptCLI
import CkptReplay
import CkptTransport
import SystemPackage
import XCTest

/// Kernel refusals as the CLI prints them (iproute2's shape: explanation, then `Error:
/// <extack>`), with the kernel's own extack texts from kernel-patch/net/ckpt.
final class KernelRefusalTests: XCTestCase {
    private func checkpoint(_ errno: Errno, _ extack: String?, stop: Bool = false) -> String {
        CheckpointCommand.explain(.kernel(errno: errno, message: extack, attributeOffset: nil, requestSeq: 1), pid: 42, stop: stop)
    }

    /// An old module's flags policy refuses the hold bit with the policy's own words.
    func testHoldOnAModuleThatDoesNotKnowIt() {
        let text = CheckpointCommand.explain(.kernel(errno: .invalidArgument, message: "reserved bit set", attributeOffset: nil,
                                                     requestSeq: 1), pid: 42, stop: true, hold: true)
        XCTAssertEqual(text, "the loaded ckpt module does not know --hold (a module before session 38): load the current one, or drop --hold\n"
                       + "Error: reserved bit set")
        XCTAssertFalse(checkpoint(.invalidArgument, "reserved bit set").contains("--hold"), "without --hold the bit is not ours to name")
    }

    /// A module before session 42 holds only for a process it stops itself: its refusal of
    /// hold without stop (--tree, --pre-copy) names the module, not the options.
    func testHoldWithoutStopOnAnOlderModule() {
        let extack = "hold ends the freeze early, which only a stream that stops the task can: set stop too"
        let text = CheckpointCommand.explain(.kernel(errno: .invalidArgument, message: extack, attributeOffset: nil,
                                                     requestSeq: 1), pid: 42, stop: false, hold: true)
        XCTAssertEqual(text, "the loaded ckpt module takes --hold only with --stop on one process, not with --tree or --pre-copy "
                       + "(a module before session 42): load the current one, or drop --hold\nError: " + extack)
    }

    func testEbusyIsToldApartByTheKernelsText() {
        XCTAssertEqual(checkpoint(.resourceBusy, "the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)"),
                       "pid 42 is not stopped: pass --stop, or kill -STOP 42 first (EBUSY)\n"
                       + "Error: the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)")
        XCTAssertEqual(checkpoint(.resourceBusy, "the task did not stop within 2 s", stop: true),
                       "pid 42 was sent SIGSTOP but did not stop in time (uninterruptible sleep, or traced): try again (EBUSY)\n"
                       + "Error: the task did not stop within 2 s")
        XCTAssertEqual(checkpoint(.resourceBusy, nil, stop: true),
                       "pid 42 is already being checkpointed or restored: wait for that to finish (EBUSY)",
                       "no extack: the busy-list refusal; never 'pass --stop' when --stop was passed")
        let locked = "the target's memory map stayed locked for 100 ms (another task is reading or changing it): try again"
        XCTAssertEqual(checkpoint(.resourceBusy, locked, stop: true),
                       "another task holds pid 42's memory map or exec lock (a reader of its /proc files, a debugger,"
                       + " an execve()), and the kernel does not wait for it: try again (EBUSY)\nError: " + locked)
        let claimed = "the task is already in a checkpoint or restart"
        XCTAssertEqual(checkpoint(.resourceBusy, claimed),
                       "pid 42 is already being checkpointed or restored: wait for that to finish (EBUSY)\nError: " + claimed)
        XCTAssertEqual(checkpoint(.resourceBusy, "the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)", stop: true),
                       "pid 42 is not stopped although --stop was passed: it was resumed meanwhile (EBUSY)\n"
                       + "Error: the task is not stopped (set CKPT_CHECKPOINT_FLAGS_STOP to stop it)")
    }

    func testEaccesIsThePtraceCheckAndEpermTheCapability() {
        let eacces = checkpoint(.permissionDenied, "ptrace access check refused: other owner, not dumpable, and no CAP_SYS_PTRACE")
        XCTAssertTrue(eacces.hasPrefix("not permitted to checkpoint pid 42: the ptrace-style access check refused"), eacces)
        XCTAssertFalse(eacces.contains("CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN"), eacces)
        XCTAssertTrue(eacces.hasSuffix("\nError: ptrace access check refused: other owner, not dumpable, and no CAP_SYS_PTRACE"), eacces)
        let eperm = checkpoint(.notPermitted, "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the target's user namespace is required")
        XCTAssertEqual(eperm, "not permitted to checkpoint pid 42: needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in its user namespace (EPERM)\n"
                       + "Error: CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the target's user namespace is required")
    }

    func testOtherRefusalsKeepTheKernelsTextOnAnErrorLine() {
        XCTAssertEqual(checkpoint(.socketNotConnected, "no capture sink is registered"),
                       "no listener registered: start `ckpt listen` first\nError: no capture sink is registered")
        XCTAssertEqual(checkpoint(.invalidArgument, nil), "the kernel refused the checkpoint (EINVAL)")
        XCTAssertEqual(checkpoint(.deadlock, "the sink's own process cannot be checkpointed"),
                       "pid 42 is the listener's own process: its stream could never drain\n"
                       + "Error: the sink's own process cannot be checkpointed")
        let replay = ReplayCommand.explain(.rejected(stage: .begin, recordID: nil, errno: .resourceBusy,
                                                     message: "the target task is not stopped"), pid: 7)
        XCTAssertEqual(replay, "pid 7 is not stopped: stop it first (kill -STOP 7) (EBUSY)\nError: the target task is not stopped")
    }
}
