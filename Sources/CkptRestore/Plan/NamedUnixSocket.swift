#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol

/// A Unix socket made again by name in the new process: a listener (a server's socket, as
/// on /run/app.sock) listening on its name with its backlog; a bound socket not connected (a
/// datagram server's) bound to it and given back the messages it had queued; or a datagram
/// socket connected to a named socket of another process (a syslog client's, to /dev/log)
/// connected to that name again. A path name the original left behind is taken over when
/// no socket answers on it any more (`Restorer.restoreNamedUnixSockets`). A listener comes
/// back without the connections that waited for accept(2), a reconnected socket without
/// what its peer had sent it, and a warning says so.
public struct NamedUnixSocket: Equatable, Sendable, CustomStringConvertible {
    public enum Role: Equatable, Sendable {
        /// `listen(2)` after `bind(2)`.
        case listening(backlog: UInt32)
        /// `bind(2)` only.
        case bound
        /// `connect(2)` to its peer's name (after `bind(2)` when it had a name of its own).
        case reconnected(UnixAddress)
    }

    /// As /proc/PID/fd shows it: "socket:[INODE]".
    public var name: String
    /// Its fd numbers (dups share the open socket) and their status flags.
    public var fds: [Int32]
    public var flags: Int32
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    public var type: UInt32
    /// Its own name; nil only for a reconnected socket that had none.
    public var address: UnixAddress?
    public var role: Role
    /// The messages queued for it to read, oldest first (a bound socket's).
    public var messages: [[UInt8]]
    /// Connections that waited for accept(2) (a listener's), lost.
    public var queued: UInt32
    public var sndbuf: UInt32
    public var rcvbuf: UInt32

    /// "Unix listener on /run/app.sock", "Unix datagram socket on @name", "Unix datagram
    /// socket connected to /dev/log".
    public var description: String {
        let on = address.map { " on \($0)" } ?? ""
        if case .listening = role { return "Unix listener\(on)" }
        let kind = type == SOCK_DGRAM.rawValue ? "datagram " : type == SOCK_SEQPACKET.rawValue ? "seqpacket " : ""
        if case let .reconnected(peer) = role { return "Unix \(kind)socket\(on) connected to \(peer)" }
        return "Unix \(kind)socket\(on)"
    }

    /// What a restore of it loses, for a warning; nil when nothing.
    public var lost: String? {
        if case .reconnected = role, !messages.isEmpty {
            return "fd \(fds[0]) (\(description)) comes back without the \(messages.count) datagram\(messages.count == 1 ? "" : "s") "
                + "its peer had sent it (they cannot be sent again from the peer)"
        }
        guard queued > 0 else { return nil }
        return "fd \(fds[0]) (\(description)) comes back without the \(queued) connection\(queued == 1 ? "" : "s") "
            + "that waited for accept(2) at the checkpoint"
    }

    /// True for a datagram socket connected to a named socket that is none of the pair ends
    /// the process holds (`held`: their inodes): another process's, or one of its own bound
    /// sockets. It is connected to that name again.
    static func isReconnect(_ meta: UnixMeta, held: Set<UInt64>) -> Bool {
        meta.type == SOCK_DGRAM.rawValue && meta.peerInode != 0 && !held.contains(meta.peerInode) && meta.peerAddress != nil
    }

    /// True for a listener or a socket bound and never connected (and `isReconnect`'s).
    /// Other connections are `SocketPair`'s, named or not: a connection a listener accepted
    /// carries the listener's name (getsockname(2) shows it), and comes back as a pair's end,
    /// with its peer when the process holds it, with its peer closed when it was (as a
    /// connection whose client left), and refused otherwise unless `--unix-close`.
    static func isNamed(_ meta: UnixMeta) -> Bool {
        meta.state == UInt32(TCP_LISTEN)
            || (meta.flags & UInt32(CKPT_SOCK_FLAGS_NAMED.rawValue) != 0 && meta.peerInode == 0
                && meta.state != UInt32(TCP_ESTABLISHED))
    }

    /// The sockets among `records` (each `isNamed` or `isReconnect`), dups grouped by inode. Refused,
    /// naming the fd: a name the image lacks (an older module's), a shut-down socket, a
    /// listener without its backlog, and what `SocketPair.checkQueue` refuses in any Unix
    /// socket (queued descriptors, an out-of-band byte, a busy queue).
    /// Reconnected sockets come last: they may connect to a name another of them binds.
    static func sockets(_ records: [SocketPair.Record], held: Set<UInt64>) throws(RestoreError) -> [NamedUnixSocket] {
        var out: [NamedUnixSocket] = [], inodes: [UInt64] = []
        for r in records {
            let name = r.file.path ?? "socket"
            let inode = r.file.identity?.inode ?? 0
            if inode != 0, let i = inodes.firstIndex(of: inode) {
                out[i].fds.append(Int32(r.file.fd))
                continue
            }
            let what = "fd \(r.file.fd) (\(name))"
            let m = r.meta
            try SocketPair.checkQueue(m, what: what)
            let reconnect = isReconnect(m, held: held)
            let address = m.address
            if address == nil && !reconnect {
                throw .unsupported(what: what, why: "a Unix socket bound to a name the image does not hold (an older module's image): not restored")
            }
            let role: Role
            if reconnect, let peer = m.peerAddress {
                role = .reconnected(peer)
            } else if m.state == UInt32(TCP_LISTEN) {
                guard let backlog = m.backlog else {
                    throw .unsupported(what: what, why: "a Unix listener\(address.map { " on \($0)" } ?? "") whose backlog the image does not hold: not restored")
                }
                role = .listening(backlog: backlog)
            } else {
                role = .bound
            }
            if m.shutdown != 0 {
                throw .unsupported(what: what, why: "a Unix socket\(address.map { " on \($0)" } ?? "") shut down (shutdown(2)): not restored")
            }
            if m.bytes > 0, r.data.isEmpty, !reconnect {
                throw .unsupported(what: what, why: "it held \(m.bytes) bytes, which the image does not carry (more than \(CKPT_UNIX_DATA_MAX) with their lengths)")
            }
            guard let messages = UnixMessages.split(r.data) else {
                throw .image("\(what): its unix record's messages are not framed as the header says")
            }
            out.append(NamedUnixSocket(name: name, fds: [Int32(r.file.fd)], flags: Int32(bitPattern: r.file.fFlags),
                                       type: m.type, address: address, role: role, messages: messages.map(Array.init),
                                       queued: m.queued ?? 0, sndbuf: m.sndbuf, rcvbuf: m.rcvbuf))
            inodes.append(inode)
        }
        return out.filter { if case .reconnected = $0.role { false } else { true } }
            + out.filter { if case .reconnected = $0.role { true } else { false } }
    }
}
