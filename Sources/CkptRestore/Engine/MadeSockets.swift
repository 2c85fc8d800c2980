#if canImport(Glibc)
import Glibc
#endif
import CCkptShims

/// Unix socketpairs, made in the new process: each pair with socketpair(2), both ends
/// moved above every image fd, buffers sized as the image's, each end's queued messages
/// sent again through the other end (one send a message: a datagram stays whole), the
/// shutdown state applied, then each end dup2'd to its fds with their status flags; the
/// other end of a pair whose peer was closed is closed last, as it had been.
extension Restorer {
    func restoreSocketPairs(_ remote: RemoteSyscalls) throws(RestoreError) {
        guard !plan.socketPairs.isEmpty else { return }
        let fdsAt = remote.scratch + 3584
        // A buffer in the new process for the largest message, unmapped again before the
        // memory is written (the image's mappings are all the process may have then).
        // Empty datagrams alone need none: their sends read nothing.
        let largest = plan.socketPairs.flatMap { [$0.first] + ($0.second.map { [$0] } ?? []) }
            .flatMap(\.messages).map(\.count).max() ?? 0
        var mapped: (at: UInt64, size: UInt64)?
        if largest > 0 {
            let size = (UInt64(largest) + 4095) & ~4095
            let at = try remote.call("mmap \(size) bytes for socket messages", Int32(CKPT_SYS_MMAP), 0, size,
                                     UInt64(PROT_READ | PROT_WRITE), UInt64(MAP_PRIVATE | MAP_ANONYMOUS), UInt64.max, 0)
            mapped = (at, size)
        }
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
        if let mapped { try remote.call("munmap the socket message buffer", Int32(CKPT_SYS_MUNMAP), mapped.at, mapped.size) }
    }

    /// SO_SNDBUF / SO_RCVBUF as the image's: the kernel doubles what it is given (and caps
    /// it at wmem_max / rmem_max), so half the recorded size is asked for.
    private func setBuffer(_ remote: RemoteSyscalls, _ fd: UInt64, _ option: Int32, _ size: UInt32, _ name: String) throws(RestoreError) {
        guard size > 0 else { return }
        let at = remote.scratch + 3600
        try remote.tracee.write(withUnsafeBytes(of: Int32(size / 2).littleEndian, Array.init), at: at)
        try remote.call("setsockopt \(option == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF") \(size / 2) on \(name)",
                        Int32(CKPT_SYS_SETSOCKOPT), fd, UInt64(SOL_SOCKET), UInt64(option), at, 4)
    }
}
