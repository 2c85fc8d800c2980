#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import SystemPackage

/// Named Unix sockets (`NamedUnixSocket`), made in the new process after its working
/// directory and rights are set (a relative name is the process's, and a path is bound with
/// its rights): socket(2), moved above every image fd, buffers sized as the image's, then
/// bind(2) to its name, listen(2) with its backlog, for a bound datagram socket its queued
/// messages sent to it again, for a reconnected one connect(2) to its peer's name (which
/// must answer: the restore fails naming it otherwise), then dup2'd to its fds with their
/// status flags. The reconnected come last (the plan's order): a name they connect to may
/// be one the others bind.
///
/// A path name: the original process left its socket file behind (a socket's file outlives
/// it, as after a crash). When no socket answers a connect(2) on it any more (ECONNREFUSED),
/// it is removed and the new socket is bound in its place, given the old file's mode and
/// group when the two files have one owner (`giveBack`). A socket that answers is another
/// process's: the restore fails naming it, as for any other file on the path. Returns the
/// warnings.
extension Restorer {
    func restoreNamedUnixSockets(_ remote: RemoteSyscalls) throws(RestoreError) -> [String] {
        let addressAt = remote.scratch + 3616, statAt = remote.scratch + 3736
        var warnings: [String] = []
        for s in plan.namedUnixSockets {
            let what = "fd \(s.fds[0]) (\(s))"
            let made = try moveAbove(remote, try remote.call("socket for \(what)", Int32(CKPT_SYS_SOCKET), UInt64(AF_UNIX),
                                                             UInt64(s.type), 0), what)
            try setBuffer(remote, made, SO_SNDBUF, s.sndbuf, what)
            try setBuffer(remote, made, SO_RCVBUF, s.rcvbuf, what)
            if let address = s.address {
                try remote.tracee.write(address.bytes, at: addressAt)
                let left = try address.path.map { path throws(RestoreError) in
                    try takeOverSocketFile(remote, path: path, type: s.type, addressAt: addressAt,
                                           addressLength: address.bytes.count, statAt: statAt, what: what)
                } ?? nil
                do throws(RestoreError) {
                    try remote.call("bind \(address) for \(what)", Int32(CKPT_SYS_BIND), made, addressAt, UInt64(address.bytes.count))
                } catch {
                    guard case let .remote(step, errno) = error, errno == .addressInUse else { throw error }
                    let by = address.isAbstract ? "another socket holds the name" : "a file other than the original's socket is on the path"
                    throw .remote(step: "\(step) (\(by))", errno: errno)
                }
                if let left, let path = address.path {
                    warnings += try giveBack(remote, left, path: path, statAt: statAt, what: what)
                }
            }
            switch s.role {
            case let .listening(backlog):
                try remote.call("listen (backlog \(backlog)) for \(what)", Int32(CKPT_SYS_LISTEN), made, UInt64(backlog))
            case .bound:
                if let address = s.address {
                    try resend(remote, s.messages, to: addressAt, length: address.bytes.count, type: s.type, what: what)
                }
            case let .reconnected(peer):
                try remote.tracee.write(peer.bytes, at: addressAt)
                do throws(RestoreError) {
                    try remote.call("connect to \(peer) for \(what)", Int32(CKPT_SYS_CONNECT), made, addressAt, UInt64(peer.bytes.count))
                } catch {
                    guard case let .remote(step, errno) = error, errno == .connectionRefused || errno == .noSuchFileOrDirectory else {
                        throw error
                    }
                    throw .remote(step: "\(step) (no socket is bound to \(peer) now)",
                                  errno: errno)
                }
            }
            for fd in s.fds { try remote.call("dup2 \(what) to fd \(fd)", Int32(CKPT_SYS_DUP2), made, UInt64(fd)) }
            try remote.call("F_SETFL fd \(s.fds[0]) (\(what))", Int32(CKPT_SYS_FCNTL), UInt64(s.fds[0]), UInt64(F_SETFL),
                            UInt64(UInt32(bitPattern: s.flags & O_NONBLOCK)))
            try remote.call("close", Int32(CKPT_SYS_CLOSE), made)
        }
        return warnings + plan.namedUnixSockets.compactMap(\.lost)
    }

    /// The mode and owner of a socket file the original left on `path`.
    struct SocketFile { var mode: UInt32; var uid: UInt32; var gid: UInt32 }

    /// Removes the original's socket file from `path` when nothing answers on it (see above)
    /// and returns its mode and owner; nil when the path is free. A socket that answers, or
    /// a file that is not a socket, fails the restore.
    private func takeOverSocketFile(_ remote: RemoteSyscalls, path: String, type: UInt32, addressAt: UInt64,
                                    addressLength: Int, statAt: UInt64, what: String) throws(RestoreError) -> SocketFile? {
        guard let file = try statFile(remote, path: path, statAt: statAt, what: what) else { return nil }
        guard file.mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) else {
            throw .remote(step: "bind \(path) for \(what) (the path holds a file that is not a socket)", errno: .addressInUse)
        }
        let probe = try remote.call("socket to try \(path) for \(what)", Int32(CKPT_SYS_SOCKET), UInt64(AF_UNIX),
                                    UInt64(type) | UInt64(SOCK_NONBLOCK.rawValue), 0)
        var answered = true
        do throws(RestoreError) {
            try remote.call("connect to \(path) to see whether a socket still answers on it", Int32(CKPT_SYS_CONNECT), probe,
                            addressAt, UInt64(addressLength))
        } catch {
            // EAGAIN: a listener whose backlog is full, which answers all the same.
            guard case let .remote(_, errno) = error, errno == .connectionRefused || errno == .resourceTemporarilyUnavailable else {
                _ = try? remote.call("close", Int32(CKPT_SYS_CLOSE), probe)
                throw error
            }
            answered = errno != .connectionRefused
        }
        try remote.call("close", Int32(CKPT_SYS_CLOSE), probe)
        if answered {
            throw .remote(step: "bind \(path) for \(what) (a socket answers on it: another process holds the name)",
                          errno: .addressInUse)
        }
        try remote.call("unlink \(path), the original's socket file, for \(what)", Int32(CKPT_SYS_UNLINK), try remote.string(path))
        return file
    }

    /// `path`'s mode and owner (lstat), or nil when it does not exist.
    private func statFile(_ remote: RemoteSyscalls, path: String, statAt: UInt64, what: String) throws(RestoreError) -> SocketFile? {
        do throws(RestoreError) {
            try remote.call("lstat \(path) for \(what)", Int32(CKPT_SYS_NEWFSTATAT), UInt64(bitPattern: Int64(AT_FDCWD)),
                            try remote.string(path), statAt, UInt64(AT_SYMLINK_NOFOLLOW))
        } catch {
            if case let .remote(_, errno) = error, errno == .noSuchFileOrDirectory { return nil }
            throw error
        }
        let raw = try remote.tracee.read(MemoryLayout<stat>.size, at: statAt)
        // The kernel's struct stat is glibc's on x86-64: a plain C struct, copied bytewise.
        var st = stat()
        withUnsafeMutableBytes(of: &st) { $0.copyBytes(from: raw) }
        return SocketFile(mode: st.st_mode, uid: st.st_uid, gid: st.st_gid)
    }

    /// The original file's permission bits and group on the new socket's file, where they
    /// differ, when both files have one owner: the stale file is then the original's (or
    /// that owner's own), and only its owner or root could have set what is copied. A stale
    /// file of another owner gives nothing back, with a warning: whoever left a socket on
    /// the path (it may be anyone's, in a directory all may write) must not get the restored
    /// server's socket. A group the process may not give is a warning, not a failure.
    private func giveBack(_ remote: RemoteSyscalls, _ old: SocketFile, path: String, statAt: UInt64,
                          what: String) throws(RestoreError) -> [String] {
        guard let now = try statFile(remote, path: path, statAt: statAt, what: what) else { return [] }
        guard now.uid == old.uid else {
            return ["\(what): the socket file left on \(path) was uid \(old.uid)'s, not the process's (uid \(now.uid)): "
                    + "its mode and group are not given to the new one"]
        }
        if now.mode & 0o7777 != old.mode & 0o7777 {
            try remote.call("chmod \(path) \(String(old.mode & 0o7777, radix: 8)) for \(what)", Int32(CKPT_SYS_CHMOD),
                            try remote.string(path), UInt64(old.mode & 0o7777))
        }
        guard now.gid != old.gid else { return [] }
        do throws(RestoreError) {
            try remote.call("lchown \(path) -1:\(old.gid) for \(what)", Int32(CKPT_SYS_LCHOWN), try remote.string(path),
                            UInt64(UInt32.max), UInt64(old.gid))
        } catch {
            guard case let .remote(step, errno) = error, errno == .notPermitted else { throw error }
            return ["\(what): its socket file's group is \(now.gid), not \(old.gid) as the original's was (\(step): \(errno))"]
        }
        return []
    }

    /// A bound datagram socket's queued messages, sent to it again from a socket of its own
    /// that is then closed: each arrives whole, from an unnamed sender (the original senders'
    /// names are not in the image).
    private func resend(_ remote: RemoteSyscalls, _ messages: [[UInt8]], to addressAt: UInt64, length: Int, type: UInt32,
                        what: String) throws(RestoreError) {
        guard !messages.isEmpty else { return }
        let mapped = try mapMessageBuffer(remote, messages, for: "the messages of \(what)")
        let buffer = mapped?.at ?? remote.scratch
        let sender = try remote.call("socket to send \(what) its messages", Int32(CKPT_SYS_SOCKET), UInt64(AF_UNIX), UInt64(type), 0)
        for (i, m) in messages.enumerated() {
            if !m.isEmpty { try remote.tracee.write(m, at: buffer) }
            let n = try remote.call("send message \(i + 1) of \(messages.count) (\(m.count) bytes) to \(what)",
                                    Int32(CKPT_SYS_SENDTO), sender, buffer, UInt64(m.count), UInt64(MSG_DONTWAIT),
                                    addressAt, UInt64(length))
            guard n == UInt64(m.count) else { throw .mismatch("\(what): message \(i + 1) was sent in part (\(n) of \(m.count) bytes)") }
        }
        try remote.call("close", Int32(CKPT_SYS_CLOSE), sender)
        try unmapMessageBuffer(remote, mapped, for: "the messages of \(what)")
    }
}
