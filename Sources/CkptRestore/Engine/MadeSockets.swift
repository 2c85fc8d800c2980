#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI

/// Unix socketpairs, made in the new process: each pair with socketpair(2), both ends
/// moved above every image fd, buffers sized as the image's, each end's queued messages
/// sent again through the other end (one send a message: a datagram stays whole), the
/// shutdown state applied, then each end dup2'd to its fds with their status flags; the
/// other end of a pair whose peer was closed is closed last, as it had been.
extension Restorer {
    func restoreSocketPairs(_ remote: RemoteSyscalls) throws(RestoreError) {
        guard !plan.socketPairs.isEmpty else { return }
        let fdsAt = remote.scratch + 3584
        let mapped = try mapMessageBuffer(remote, plan.socketPairs.flatMap { [$0.first] + ($0.second.map { [$0] } ?? []) }
            .flatMap(\.messages), for: "socket messages")
        let buffer = mapped?.at ?? remote.scratch
        for pair in plan.socketPairs {
            let what = pair.first.name
            try remote.call("socketpair for \(what)", Int32(CKPT_SYS_SOCKETPAIR), UInt64(AF_UNIX), UInt64(pair.type), 0, fdsAt)
            let raw = try remote.tracee.read(8, at: fdsAt)
            func int32(at i: Int) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(raw[i + $1]) << UInt64(8 * $1) } }
            let a = try moveAbove(remote, int32(at: 0), what), b = try moveAbove(remote, int32(at: 4), what)
            let ends: [(made: UInt64, end: SocketPair.End?)] = [(a, pair.first), (b, pair.second)]
            for (made, end) in ends {
                guard let end else { continue }
                try setBuffer(remote, made, SO_SNDBUF, end.sndbuf, end.name)
                try setBuffer(remote, made, SO_RCVBUF, end.rcvbuf, end.name)
            }
            // What `first` had queued was sent by `second`, and the other way round.
            for (from, to) in [(b, pair.first), (a, pair.second)] {
                guard let to else { continue }
                for (i, m) in to.messages.enumerated() {
                    if !m.isEmpty { try remote.tracee.write(m, at: buffer) }
                    var done = 0
                    repeat {
                        let n = try remote.call("send message \(i + 1) of \(to.messages.count) (\(m.count) bytes) to \(to.name)",
                                                Int32(CKPT_SYS_SENDTO), from, buffer + UInt64(done), UInt64(m.count - done),
                                                UInt64(MSG_DONTWAIT), 0, 0)
                        guard n > 0 || m.isEmpty else { throw .mismatch("\(to.name): a send of message \(i + 1) took nothing") }
                        done += Int(n)
                    } while done < m.count
                }
            }
            for (made, end) in ends {
                guard let end, end.shutdown & 3 != 0 else { continue }
                // sk_shutdown 1 (receive), 2 (send), 3 (both) is shutdown(2)'s how + 1.
                try remote.call("shutdown \(end.name)", Int32(CKPT_SYS_SHUTDOWN), made, UInt64(end.shutdown & 3) - 1)
            }
            for (made, end) in ends {
                if let end {
                    for fd in end.fds { try remote.call("dup2 \(end.name) to fd \(fd)", Int32(CKPT_SYS_DUP2), made, UInt64(fd)) }
                    // Status flags belong to the open socket, shared by its dups: set once.
                    try remote.call("F_SETFL fd \(end.fds[0]) (\(end.name))", Int32(CKPT_SYS_FCNTL), UInt64(end.fds[0]),
                                    UInt64(F_SETFL), UInt64(UInt32(bitPattern: end.flags & O_NONBLOCK)))
                }
                try remote.call("close", Int32(CKPT_SYS_CLOSE), made)
            }
        }
        try unmapMessageBuffer(remote, mapped, for: "socket messages")
    }

    /// A buffer in the new process for the largest of `messages`, to send them from; nil
    /// when all are empty (their sends read nothing). Unmapped again (`unmapMessageBuffer`)
    /// before the memory is written: the image's mappings are all the process may have then.
    func mapMessageBuffer(_ remote: RemoteSyscalls, _ messages: [[UInt8]],
                          for what: String) throws(RestoreError) -> (at: UInt64, size: UInt64)? {
        let largest = messages.map(\.count).max() ?? 0
        guard largest > 0 else { return nil }
        let size = (UInt64(largest) + 4095) & ~4095
        let at = try remote.call("mmap \(size) bytes for \(what)", Int32(CKPT_SYS_MMAP), 0, size,
                                 UInt64(PROT_READ | PROT_WRITE), UInt64(MAP_PRIVATE | MAP_ANONYMOUS), UInt64.max, 0)
        return (at, size)
    }

    func unmapMessageBuffer(_ remote: RemoteSyscalls, _ mapped: (at: UInt64, size: UInt64)?,
                            for what: String) throws(RestoreError) {
        guard let mapped else { return }
        try remote.call("munmap the buffer for \(what)", Int32(CKPT_SYS_MUNMAP), mapped.at, mapped.size)
    }

    /// SO_SNDBUF / SO_RCVBUF as the image's: the kernel doubles what it is given (and caps
    /// it at wmem_max / rmem_max), so half the recorded size is asked for.
    func setBuffer(_ remote: RemoteSyscalls, _ fd: UInt64, _ option: Int32, _ size: UInt32, _ name: String) throws(RestoreError) {
        guard size > 0 else { return }
        let at = remote.scratch + 3600
        try remote.tracee.write(withUnsafeBytes(of: Int32(size / 2).littleEndian, Array.init), at: at)
        try remote.call("setsockopt \(option == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF") \(size / 2) on \(name)",
                        Int32(CKPT_SYS_SETSOCKOPT), fd, UInt64(SOL_SOCKET), UInt64(option), at, 4)
    }
}

/// TCP and UDP sockets, made in the new process (`InetSocket`): socket(2), moved above every
/// image fd, its options, then bind(2) to its address, listen(2) with its backlog or
/// connect(2) to its peer, then dup2'd to its fds with their status flags. Binding needs the
/// address free (the original process gone, or SO_REUSEPORT on both; its TCP connections in
/// TIME_WAIT count unless it had SO_REUSEADDR) and, below port 1024, CAP_NET_BIND_SERVICE: a
/// failure names the socket, the call and, for EADDRINUSE, who may hold it. Returns what
/// they lost.
extension Restorer {
    func restoreInetSockets(_ remote: RemoteSyscalls) throws(RestoreError) -> [String] {
        let addressAt = remote.scratch + 3616, intAt = remote.scratch + 3600
        for s in plan.inetSockets {
            let what = "fd \(s.fds[0]) (\(s))"
            let made = try moveAbove(remote, try remote.call("socket for \(what)", Int32(CKPT_SYS_SOCKET), UInt64(s.meta.family),
                                                             UInt64(s.meta.type), UInt64(s.meta.proto)), what)
            func set(_ level: Int32, _ option: Int32, _ name: String, _ value: Int32) throws(RestoreError) {
                try remote.tracee.write(withUnsafeBytes(of: value.littleEndian, Array.init), at: intAt)
                try remote.call("setsockopt \(name) \(value) on \(what)", Int32(CKPT_SYS_SETSOCKOPT), made,
                                UInt64(level), UInt64(option), intAt, 4)
            }
            func flag(_ bit: ckpt_sock_flags) -> Int32 { s.meta.flags & bit.rawValue != 0 ? 1 : 0 }
            if flag(CKPT_SOCK_FLAGS_REUSEADDR) != 0 { try set(SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 1) }
            if flag(CKPT_SOCK_FLAGS_REUSEPORT) != 0 { try set(SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 1) }
            // Set either way: without it the default is this machine's net.ipv6.bindv6only.
            if s.meta.family == UInt32(AF_INET6) {
                try set(Int32(CKPT_IPPROTO_IPV6), Int32(CKPT_IPV6_V6ONLY), "IPV6_V6ONLY", flag(CKPT_SOCK_FLAGS_V6ONLY))
            }
            if flag(CKPT_SOCK_FLAGS_KEEPALIVE) != 0 { try set(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1) }
            if flag(CKPT_SOCK_FLAGS_NODELAY) != 0 { try set(Int32(CKPT_IPPROTO_TCP), Int32(CKPT_TCP_NODELAY), "TCP_NODELAY", 1) }
            if flag(CKPT_SOCK_FLAGS_SNDBUF_LOCK) != 0 { try setBuffer(remote, made, SO_SNDBUF, s.meta.sndbuf, what) }
            if flag(CKPT_SOCK_FLAGS_RCVBUF_LOCK) != 0 { try setBuffer(remote, made, SO_RCVBUF, s.meta.rcvbuf, what) }
            if let address = s.meta.address, address.port != 0, s.role != .closedConnection {
                try remote.tracee.write(address.bytes, at: addressAt)
                do throws(RestoreError) {
                    try remote.call("bind \(address) for \(what)", Int32(CKPT_SYS_BIND), made, addressAt, UInt64(address.bytes.count))
                } catch {
                    // Linux lets a socket bind over TIME_WAIT connections only when both had
                    // SO_REUSEADDR: setting it here would not help.
                    guard case let .remote(step, errno) = error, errno == .addressInUse else { throw error }
                    let waiting = s.meta.proto == UInt32(CKPT_IPPROTO_TCP) && flag(CKPT_SOCK_FLAGS_REUSEADDR) == 0
                        ? ", or by the original process's connections in TIME_WAIT for up to a minute (it did not set SO_REUSEADDR)" : ""
                    throw .remote(step: "\(step) (the address is held by another socket\(waiting))", errno: errno)
                }
            }
            switch s.role {
            case .listening:
                try remote.call("listen (backlog \(s.meta.backlog)) for \(what)", Int32(CKPT_SYS_LISTEN), made, UInt64(s.meta.backlog))
            case let .connected(peer):
                try remote.tracee.write(peer.bytes, at: addressAt)
                try remote.call("connect to \(peer) for \(what)", Int32(CKPT_SYS_CONNECT), made, addressAt, UInt64(peer.bytes.count))
            case .bound, .closedConnection:
                break
            }
            for fd in s.fds { try remote.call("dup2 \(what) to fd \(fd)", Int32(CKPT_SYS_DUP2), made, UInt64(fd)) }
            try remote.call("F_SETFL fd \(s.fds[0]) (\(what))", Int32(CKPT_SYS_FCNTL), UInt64(s.fds[0]), UInt64(F_SETFL),
                            UInt64(UInt32(bitPattern: s.flags & O_NONBLOCK)))
            try remote.call("close", Int32(CKPT_SYS_CLOSE), made)
        }
        return plan.inetSockets.compactMap(\.lost)
    }
}
