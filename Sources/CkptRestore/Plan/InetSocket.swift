#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import CkptProtocol

/// A TCP or UDP socket made again in the new process: a listener listening on its address
/// with its backlog, a bound socket bound, a connected UDP socket connected to its peer, each
/// with the options set before it was bound (SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY), the ones
/// the connections it accepts inherit (SO_KEEPALIVE, TCP_NODELAY) and the buffer sizes set by
/// hand. It comes back empty: what it held (datagrams, connections not yet accepted) is not in
/// the image, and a warning says how much. A TCP connection is refused: it ends with the
/// process (CRIU restores one with TCP repair, `--tcp-established`); with `--tcp-close` (as
/// CRIU's) it comes back as a socket that is not connected, which the program sees as a
/// dropped connection: reads fail with ENOTCONN, poll reports a hang-up.
public struct InetSocket: Equatable, Sendable, CustomStringConvertible {
    public enum Role: Equatable, Sendable {
        /// `listen(2)` after `bind(2)`.
        case listening
        /// `bind(2)` to its address; a socket without a local port is only made.
        case bound
        /// A UDP socket: `bind(2)`, then `connect(2)` to its peer.
        case connected(SocketAddress)
        /// A TCP connection, with `--tcp-close`: only made (not bound, not connected).
        case closedConnection
    }

    /// As /proc/PID/fd shows it: "socket:[INODE]".
    public var name: String
    /// Its fd numbers (dups share the open socket) and their status flags.
    public var fds: [Int32]
    public var flags: Int32
    public var meta: InetMeta
    public var role: Role

    /// "TCP listener on 127.0.0.1:8080", "UDP socket on [::]:53", "TCP socket",
    /// "TCP connection 127.0.0.1:8080 to 127.0.0.1:40000".
    public var description: String {
        if role == .closedConnection { return "TCP connection \(Self.ends(meta))" }
        let proto = meta.proto == UInt32(CKPT_IPPROTO_TCP) ? "TCP" : "UDP"
        let noun = role == .listening ? "listener" : "socket"
        let on = meta.address.map { " on \($0)" } ?? ""
        if case let .connected(peer) = role { return "\(proto) \(noun)\(on) connected to \(peer)" }
        return "\(proto) \(noun)\(on)"
    }

    /// What a restore of it loses, for a warning; nil when nothing.
    public var lost: String? {
        if role == .closedConnection {
            return "fd \(fds[0]) (\(description)) comes back closed (--tcp-close): the program sees a dropped connection"
        }
        guard meta.queued > 0 else { return nil }
        let what = role == .listening ? "connection\(meta.queued == 1 ? "" : "s") not yet accepted"
            : "unread datagram\(meta.queued == 1 ? "" : "s")"
        return "fd \(fds[0]) (\(description)) comes back empty: \(meta.queued) \(what) at the checkpoint \(meta.queued == 1 ? "is" : "are") lost"
    }

    /// The inet sockets among `records` (a file record and its inet record each), dups
    /// grouped by inode. Refused, naming the fd: a TCP connection (any state but listening
    /// or closed) unless `tcpClose`, a connected UDP socket whose peer the image lacks, a
    /// shut-down UDP or listening socket.
    static func sockets(_ records: [(file: FileMeta, meta: InetMeta)], tcpClose: Bool = false) throws(RestoreError) -> [InetSocket] {
        var out: [InetSocket] = [], inodes: [UInt64] = []
        for (file, meta) in records {
            let name = file.path ?? "socket"
            let inode = file.identity?.inode ?? 0
            if inode != 0, let i = inodes.firstIndex(of: inode) {
                out[i].fds.append(Int32(file.fd))
                continue
            }
            let what = "fd \(file.fd) (\(name))"
            let tcp = meta.proto == UInt32(CKPT_IPPROTO_TCP)
            let state = meta.state
            let role: Role
            if tcp && state == UInt32(TCP_LISTEN) {
                role = .listening
            } else if state == UInt32(TCP_CLOSE) {
                role = .bound
            } else if !tcp && state == UInt32(TCP_ESTABLISHED), let peer = meta.peer {
                role = .connected(peer)
            } else if tcp && tcpClose {
                role = .closedConnection
            } else if tcp {
                throw .unsupported(what: what, why: "a TCP connection (\(Self.ends(meta)), \(Self.tcpState(state))): "
                                   + "connections end with the process and are not restored; --tcp-close brings it back closed, "
                                   + "which the program sees as a dropped connection (CRIU restores connections with TCP repair, --tcp-established)")
            } else {
                throw .unsupported(what: what, why: "a UDP socket in state \(state) with no peer address in the image")
            }
            if meta.shutdown != 0 && role != .closedConnection {
                throw .unsupported(what: what, why: "shut down for \(meta.shutdown == 1 ? "receiving" : meta.shutdown == 2 ? "sending" : "both ways") (shutdown(2)): not restored")
            }
            out.append(InetSocket(name: name, fds: [Int32(file.fd)], flags: Int32(bitPattern: file.fFlags), meta: meta, role: role))
            inodes.append(inode)
        }
        return out
    }

    /// "127.0.0.1:8080 to 127.0.0.1:40000" ("?" for an address the image lacks).
    static func ends(_ meta: InetMeta) -> String {
        let ends = [meta.address, meta.peer].map { $0.map(String.init(describing:)) ?? "?" }
        return "\(ends[0]) to \(ends[1])"
    }

    /// TCP's state names (include/net/tcp_states.h), for refusals.
    static func tcpState(_ state: UInt32) -> String {
        let names = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
                     "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
        return Int(state) < names.count && state > 0 ? names[Int(state)] : "state \(state)"
    }
}
