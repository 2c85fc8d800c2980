#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol

/// A Unix socket bound to a name, made again in the new process: a listener (a server's
/// socket, as on /run/app.sock) listening on its name with its backlog, or a bound socket not
/// connected (a datagram server's) bound to it and given back the messages it had queued.
/// A path name the original left behind is taken over when no socket listens on it any
/// more (`Restorer.restoreNamedUnixSockets`). A listener comes back without the connections
/// that waited for accept(2), and a warning says how many.
public struct NamedUnixSocket: Equatable, Sendable, CustomStringConvertible {
    public enum Role: Equatable, Sendable {
        /// `listen(2)` after `bind(2)`.
        case listening(backlog: UInt32)
        /// `bind(2)` only.
        case bound
    }

    /// As /proc/PID/fd shows it: "socket:[INODE]".
    public var name: String
    /// Its fd numbers (dups share the open socket) and their status flags.
    public var fds: [Int32]
    public var flags: Int32
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    public var type: UInt32
    public var address: UnixAddress
    public var role: Role
    /// The messages queued for it to read, oldest first (a bound socket's).
    public var messages: [[UInt8]]
    /// Connections that waited for accept(2) (a listener's), lost.
    public var queued: UInt32
    public var sndbuf: UInt32
    public var rcvbuf: UInt32

    /// "Unix listener on /run/app.sock", "Unix datagram socket on @name".
    public var description: String {
        if case .listening = role { return "Unix listener on \(address)" }
        let kind = type == SOCK_DGRAM.rawValue ? "datagram " : type == SOCK_SEQPACKET.rawValue ? "seqpacket " : ""
        return "Unix \(kind)socket on \(address)"
    }

    /// What a restore of it loses, for a warning; nil when nothing.
    public var lost: String? {
        guard queued > 0 else { return nil }
        return "fd \(fds[0]) (\(description)) comes back without the \(queued) connection\(queued == 1 ? "" : "s") "
            + "that waited for accept(2) at the checkpoint"
    }

    /// True for a socket this type restores: bound and not connected. Others (socketpairs,
    /// a socket whose peer was closed) are `SocketPair`'s.
    static func isNamed(_ meta: UnixMeta) -> Bool {
        meta.flags & UInt32(CKPT_SOCK_FLAGS_NAMED.rawValue) != 0 || meta.state == UInt32(TCP_LISTEN)
    }

    /// The named sockets among `records` (each `isNamed`), dups grouped by inode. Refused,
    /// naming the fd: a name the image lacks (an older module's), a named socket connected to
    /// a peer, a shut-down one, a listener without its backlog, and what `SocketPair.check`
    /// refuses in any Unix socket (queued descriptors, an out-of-band byte, a busy queue).
    static func sockets(_ records: [SocketPair.Record]) throws(RestoreError) -> [NamedUnixSocket] {
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
            guard let address = m.address else {
                throw .unsupported(what: what, why: "a Unix socket bound to a name the image does not hold (an older module's image): not restored")
            }
            let role: Role
            if m.state == UInt32(TCP_LISTEN) {
                guard let backlog = m.backlog else {
                    throw .unsupported(what: what, why: "a Unix listener on \(address) whose backlog the image does not hold: not restored")
                }
                role = .listening(backlog: backlog)
            } else if m.peerInode == 0 && m.state != UInt32(TCP_ESTABLISHED) {
                role = .bound
            } else {
                throw .unsupported(what: what, why: "a Unix socket bound to \(address) and connected to socket:[\(m.peerInode)]: "
                                   + "only named listeners and named sockets not connected are restored")
            }
            if m.shutdown != 0 {
                throw .unsupported(what: what, why: "a Unix socket on \(address) shut down (shutdown(2)): not restored")
            }
            if m.bytes > 0, r.data.isEmpty {
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
        return out
    }
}
