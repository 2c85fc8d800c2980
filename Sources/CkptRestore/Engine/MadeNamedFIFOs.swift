#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import SystemPackage

/// Named FIFOs (`NamedFIFO`), opened again at their paths in the new process with its
/// rights (`ProcessFileAccess`), before the root directory changes (the image's paths are
/// the restorer's view).
///
/// Every open is non-blocking, so none waits for the other end: the read ends first (a
/// non-blocking open for reading returns at once), then the write ends, which then find a
/// reader. A write end with no reader anywhere (ENXIO) is opened while a reader of the
/// restorer's is held, which is closed again (the warning says what the program's next write
/// meets). Each opened fd is checked to be a FIFO (the path may have changed since the plan
/// looked) and moved above every image fd, then the pipe is given back its
/// capacity and bytes when it is empty (see `NamedFIFO`), each fd its status flags (the
/// O_NONBLOCK of the open dropped unless the image has it), and each is dup2'd to its
/// number. Returns the warnings.
extension Restorer {
    func restoreNamedFIFOs(_ remote: RemoteSyscalls, access: ProcessFileAccess) throws(RestoreError) -> [String] {
        var warnings: [String] = []
        for f in plan.namedFIFOs {
            let name = "FIFO \(f.path)"
            func open(_ flags: Int32, _ what: String) throws(RestoreError) -> UInt64 {
                let clean = flags & ~(O_CREAT | O_TRUNC | O_EXCL)
                let fd = try moveAbove(remote, try access.open(f.path, flags: clean | O_NONBLOCK, held: f.identity, what: what), what)
                // The plan saw a FIFO on the path; what was opened is checked, not assumed.
                var st = stat()
                guard stat("/proc/\(remote.tracee.pid)/fd/\(fd)", &st) == 0, st.st_mode & S_IFMT == S_IFIFO else {
                    throw .unsupported(what: what, why: "\(f.path) is not a FIFO now (it changed after the restore's plan looked)")
                }
                return fd
            }
            var made: [(end: NamedFIFO.End, fd: UInt64)] = []
            for e in f.ends where e.reads { made.append((e, try open(e.flags, "fd \(e.fd) (\(name))"))) }
            var helpers: [UInt64] = []
            for e in f.ends where !e.reads {
                let what = "fd \(e.fd) (\(name))"
                do throws(RestoreError) {
                    made.append((e, try open(e.flags, what)))
                } catch {
                    guard case let .remote(_, errno) = error, errno.rawValue == ENXIO, helpers.isEmpty else { throw error }
                    helpers.append(try open(O_RDONLY, "a reader held while \(what) opens"))
                    made.append((e, try open(e.flags, what)))
                    warnings.append("\(what): no process reads the FIFO now (its reader was another process): unless one opens it, "
                                    + "the program's next write to it fails with EPIPE (SIGPIPE)")
                }
            }
            let held = try bytesHeld(remote, made[0].fd, name)
            if held > 0 {
                if !f.data.isEmpty {
                    warnings.append("fd \(made[0].end.fd) (\(name)): the pipe already holds \(held) bytes (another process kept the FIFO open): "
                                    + "the \(f.data.count) bytes it held at the checkpoint are not written again")
                }
            } else {
                // Empty: a new pipe (every opener was gone) or one nobody left bytes in.
                var writer = made.first(where: \.end.writes)?.fd
                if writer == nil, !f.data.isEmpty {
                    let w = try open(O_WRONLY, "a writer for the bytes of \(name)")
                    helpers.append(w)
                    writer = w
                }
                if f.size > 0 {
                    let capacity = try remote.call("F_SETPIPE_SZ \(f.size) for \(name)", Int32(CKPT_SYS_FCNTL), made[0].fd,
                                                   UInt64(ckpt_f_setpipe_sz()), UInt64(f.size))
                    guard capacity >= UInt64(f.data.count) else {
                        throw .mismatch("\(name): the pipe holds \(capacity) bytes, not the \(f.data.count) it held")
                    }
                }
                if let writer { try writeAll(remote, f.data, to: writer, name) }
            }
            for h in helpers { try remote.call("close", Int32(CKPT_SYS_CLOSE), h) }
            for (e, fd) in made {
                let what = "fd \(e.fd) (\(name))"
                if e.flags & O_NONBLOCK == 0 {
                    try remote.call("F_SETFL \(what)", Int32(CKPT_SYS_FCNTL), fd, UInt64(F_SETFL),
                                    UInt64(UInt32(bitPattern: e.flags & (O_APPEND | O_NONBLOCK))))
                }
                try place(remote, fd, at: e.fd, what)
            }
        }
        return warnings
    }

    /// FIONREAD of a pipe end (either end answers it): the bytes the pipe holds.
    func bytesHeld(_ remote: RemoteSyscalls, _ fd: UInt64, _ name: String) throws(RestoreError) -> UInt32 {
        let at = remote.scratch + 3584
        try remote.call("FIONREAD \(name)", Int32(CKPT_SYS_IOCTL), fd, UInt64(FIONREAD), at)
        let raw = try remote.tracee.read(4, at: at)
        return (0..<4).reduce(UInt32(0)) { v, i in v | UInt32(raw[i]) << UInt32(8 * i) }
    }
}
