#if canImport(Glibc)
import Glibc
#endif

/// A process and its descendants as /proc shows them now: each thread's children
/// (`/proc/PID/task/TID/children`, CONFIG_PROC_CHILDREN), breadth first, the root first.
struct ProcessTree: Equatable {
    /// Each process once, a parent before its children.
    var pids: [Int32]

    /// nil when the root is gone.
    static func read(root: Int32) -> ProcessTree? {
        guard access("/proc/\(root)/task", F_OK) == 0 else { return nil }
        var pids = [root]
        var at = 0
        while at < pids.count {
            let pid = pids[at]
            at += 1
            guard case let .success(tids) = directoryNames("/proc/\(pid)/task") else { continue }
            for tid in tids.sorted() {
                let text = readTextFile("/proc/\(pid)/task/\(tid)/children") ?? ""
                for child in text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap({ Int32($0) })
                where !pids.contains(child) {
                    pids.append(child)
                }
            }
        }
        return ProcessTree(pids: pids)
    }

    /// A process's state letter (`/proc/PID/stat`'s third field): "Z" for a zombie.
    static func state(_ pid: Int32) -> Character? {
        guard let stat = readTextFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].drop(while: { $0 == " " }).first
    }
}
