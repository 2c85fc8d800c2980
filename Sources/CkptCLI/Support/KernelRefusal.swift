import CkptTransport
import SystemPackage

/// A kernel refusal in words an operator can act on, printed the way iproute2 prints one:
/// our explanation on the first line, then the kernel's own extack text on a line of its own,
/// `Error: <text>` (no such line when the kernel sent none).
///
/// The kernel answers EBUSY for four different things, told apart by its extack text: the
/// task is not stopped; it was sent SIGSTOP and did not stop within 2 s; it is already being
/// checkpointed or restored; another task held its memory map or exec lock for the 100 ms a
/// request waits for them ("stayed locked", "stayed taken": a request never waits longer). EPERM is the capability check;
/// EACCES is the ptrace-style access check (same owner and dumpable, or CAP_SYS_PTRACE).
enum KernelRefusal {
    /// What the refused request was about to do: `checkpoint` or `restore into`.
    enum Action: String {
        case checkpoint = "checkpoint"
        case restore = "restore into"
    }

    /// `explanation`, then `Error: <extack>` on its own line when the kernel gave a text.
    static func format(_ explanation: String, extack: String?) -> String {
        explanation + (extack.map { "\nError: \($0)" } ?? "")
    }

    /// The explanation for `errno` (with `extack`) when `action` on `pid` was refused, or nil
    /// when this errno has no special meaning here. `stopRequested`: `--stop` was passed.
    static func explain(_ errno: Errno, extack: String?, pid: Int32, action: Action, stopRequested: Bool = false) -> String? {
        switch errno {
        case .noSuchProcess:
            return "no such process: pid \(pid)"
        case .notPermitted:
            return "not permitted to \(action.rawValue) pid \(pid): needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN"
                + " in its user namespace (EPERM)"
        case .permissionDenied:
            return "not permitted to \(action.rawValue) pid \(pid): the ptrace-style access check refused"
                + " (the process belongs to another user or is not dumpable, and the caller lacks CAP_SYS_PTRACE"
                + " over it) (EACCES)"
        case .resourceBusy:
            return busy(extack: extack, pid: pid, action: action, stopRequested: stopRequested)
        default:
            return nil
        }
    }

    private static func busy(extack: String?, pid: Int32, action: Action, stopRequested: Bool) -> String {
        guard let text = extack else {
            return "pid \(pid) is already being checkpointed or restored: wait for that to finish (EBUSY)"
        }
        if text.contains("stayed locked") || text.contains("stayed taken") {
            return "another task holds pid \(pid)'s memory map or exec lock (a reader of its /proc files, a debugger,"
                + " an execve()), and the kernel does not wait for it: try again (EBUSY)"
        }
        if text.contains("already in a checkpoint or restart") {
            return "pid \(pid) is already being checkpointed or restored: wait for that to finish (EBUSY)"
        }
        if text.contains("did not stop") {
            return "pid \(pid) was sent SIGSTOP but did not stop in time (uninterruptible sleep, or traced): try again (EBUSY)"
        }
        if text.contains("no longer stopped") {
            return "pid \(pid) was resumed during the \(action == .restore ? "restore" : "checkpoint"): keep it stopped (EBUSY)"
        }
        if text.contains("not stopped") {
            switch (action, stopRequested) {
            case (.checkpoint, false): return "pid \(pid) is not stopped: pass --stop, or kill -STOP \(pid) first (EBUSY)"
            case (.checkpoint, true): return "pid \(pid) is not stopped although --stop was passed: it was resumed meanwhile (EBUSY)"
            case (.restore, _): return "pid \(pid) is not stopped: stop it first (kill -STOP \(pid)) (EBUSY)"
            }
        }
        return "pid \(pid) is busy (EBUSY)"
    }
}
