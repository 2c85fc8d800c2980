#if canImport(Glibc)
import Glibc
#endif
import CkptSystem

/// Whether every thread of a process is stopped (state T or t in /proc/PID/task/TID/stat),
/// as the kernel's checkpoint requires of a task it does not stop itself.
struct ProcessStop {
    let pid: Int32

    func isStopped() -> Bool {
        guard case let .success(tids) = directoryNames("/proc/\(pid)/task"), !tids.isEmpty else { return false }
        return tids.allSatisfy { tid in
            guard let stat = readTextFile("/proc/\(pid)/task/\(tid)/stat"), let close = stat.lastIndex(of: ")") else {
                return false
            }
            let state = stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
            return state == "T" || state == "t"
        }
    }

    /// Polls every millisecond for at most `timeoutSeconds`.
    func waitStopped(timeoutSeconds: Double) -> Bool {
        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        while !isStopped() {
            if monotonicNanoseconds() > deadline { return false }
            usleep(1000)
        }
        return true
    }
}
