#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import SystemPackage

/// A pipe of a restored tree as the restorer made it: its two ends, open in the restorer
/// (not close-on-exec), which every process of the tree inherits at these numbers.
struct MadePipeEnds: Equatable {
    var read: Int32
    var write: Int32

    /// `pipe` made in this process: the capacity, the bytes it held written back (while
    /// both ends are non-blocking: nothing waits), then each end's status flags. The caller
    /// closes both ends once every process of the tree has inherited them.
    static func make(_ pipe: SharedPipe) throws(RestoreError) -> MadePipeEnds {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw .system(call: "pipe for \(pipe.name)", errno: Errno(rawValue: errno)) }
        let ends = MadePipeEnds(read: fds[0], write: fds[1])
        do throws(RestoreError) {
            for fd in fds where fcntl(fd, F_SETFL, O_NONBLOCK) != 0 {
                throw .system(call: "F_SETFL O_NONBLOCK \(pipe.name)", errno: Errno(rawValue: errno))
            }
            if pipe.size > 0 {
                let capacity = fcntl(ends.write, ckpt_f_setpipe_sz(), Int32(bitPattern: pipe.size))
                guard capacity >= 0 else { throw .system(call: "F_SETPIPE_SZ \(pipe.size) for \(pipe.name)", errno: Errno(rawValue: errno)) }
                guard Int(capacity) >= pipe.data.count else {
                    throw .mismatch("\(pipe.name): the new pipe holds \(capacity) bytes, not the \(pipe.data.count) it held")
                }
            }
            var done = 0
            while done < pipe.data.count {
                let n = pipe.data.withUnsafeBytes { Glibc.write(ends.write, $0.baseAddress! + done, $0.count - done) }
                guard n > 0 else { throw .system(call: "write into \(pipe.name)", errno: Errno(rawValue: n < 0 ? errno : EIO)) }
                done += n
            }
            for (fd, flags) in [(ends.read, pipe.readFlags), (ends.write, pipe.writeFlags)] {
                guard fcntl(fd, F_SETFL, flags & (O_NONBLOCK | O_APPEND)) == 0 else {
                    throw .system(call: "F_SETFL \(pipe.name)", errno: Errno(rawValue: errno))
                }
            }
        } catch {
            ends.close()
            throw error
        }
        return ends
    }

    func close() {
        Glibc.close(read)
        Glibc.close(write)
    }
}

extension Restorer {
    /// Each end of a tree's shared pipe at the image's fds of this process, from the
    /// restorer's ends it inherited (`sharedPipeFDs`): all moved above every image fd
    /// first (an inherited number may be an image fd another end or file goes to), then
    /// `dup2`'d to each fd; `restoreDescriptors` closes the inherited numbers left.
    func placeSharedPipes(_ remote: RemoteSyscalls) throws(RestoreError) {
        guard !plan.sharedPipeEnds.isEmpty else { return }
        var moved: [String: UInt64] = [:]  // "name read|write" -> the end above the image fds
        func key(_ e: SharedPipeEnd) -> String { "\(e.name) \(e.reading ? "read" : "write")" }
        for end in plan.sharedPipeEnds where moved[key(end)] == nil {
            guard let made = sharedPipeFDs[end.name] else {
                throw .mismatch("fd \(end.fd) (\(end.name)): the restorer made no pipe for it")
            }
            let above = UInt64(plan.descriptors.map(\.fd).max() ?? 0) + 1
            moved[key(end)] = try remote.call("F_DUPFD above \(above) for \(end.name)", Int32(CKPT_SYS_FCNTL),
                                              UInt64(end.reading ? made.read : made.write), UInt64(F_DUPFD), above)
        }
        for end in plan.sharedPipeEnds {
            guard let from = moved[key(end)] else { continue }  // every key was moved above
            try remote.call("dup2 \(end.name) to fd \(end.fd)", Int32(CKPT_SYS_DUP2), from, UInt64(end.fd))
        }
        for fd in moved.values { try remote.call("close", Int32(CKPT_SYS_CLOSE), fd) }
    }
}
