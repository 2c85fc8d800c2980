#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol

/// A Unix socketpair between the process's own fds, made anew with socketpair(2), each
/// end given back the messages that were queued for it to read (sent again through the
/// other end, so a datagram stays one datagram). An end whose peer was closed comes back
/// as one end of a new pair whose other end is closed once its messages are sent: its
/// reader sees the data, then end of file, as it would have.
public struct SocketPair: Equatable, Sendable {
    public struct End: Equatable, Sendable {
        /// As /proc/PID/fd shows it: "socket:[INODE]".
        public var name: String
        public var inode: UInt64
        /// Its fd numbers (dups share the open socket) and their status flags.
        public var fds: [Int32]
        public var flags: Int32
        /// The messages queued for it to read, oldest first.
        public var messages: [[UInt8]]
        /// sk_shutdown: 1 no more receiving, 2 no more sending.
        public var shutdown: UInt32
        public var sndbuf: UInt32
        public var rcvbuf: UInt32

        /// One socket's record, checked to be a restorable end (`check`) whose queued
        /// messages the image carries, framed as its header says; whether the pair is the
        /// process's own or spans a tree's processes (`SharedSocketEnd`).
        init(_ r: Record) throws(RestoreError) {
            let name = r.file.path ?? "socket"
            let what = "fd \(r.file.fd) (\(name))"
            try SocketPair.check(r.meta, what: what)
            if r.meta.bytes > 0, r.data.isEmpty {
                throw .unsupported(what: what, why: "it held \(r.meta.bytes) bytes, which the image does not carry (more than \(CKPT_UNIX_DATA_MAX) with their lengths)")
            }
            guard let messages = UnixMessages.split(r.data) else {
                throw .image("\(what): its unix record's messages are not framed as the header says")
            }
            (self.name, inode, fds, flags) = (name, r.file.identity?.inode ?? 0, [Int32(r.file.fd)], Int32(bitPattern: r.file.fFlags))
            (self.messages, shutdown, sndbuf, rcvbuf) = (messages.map(Array.init), r.meta.shutdown, r.meta.sndbuf, r.meta.rcvbuf)
        }
    }

    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    public var type: UInt32
    public var first: End
    /// nil: the peer was closed (the new pair's other end is closed after the sends).
    public var second: End?
    /// The peer another process held, when `--unix-close` brings `first` back with its peer
    /// closed instead of refusing it; nil otherwise.
    public var cutPeer: UInt64? = nil

    /// What a restore of it loses, for a warning; nil when nothing.
    public var lost: String? {
        guard let cutPeer else { return nil }
        return "fd \(first.fds[0]) (\(first.name)) comes back with its peer closed (--unix-close): its peer socket:[\(cutPeer)] "
            + "was another process's; the program reads what was queued, then end of file"
    }

    /// One socket of the image: a file record and its unix record.
    public struct Record: Sendable {
        public var file: FileMeta
        public var meta: UnixMeta
        public var data: [UInt8]
        public init(file: FileMeta, meta: UnixMeta, data: [UInt8]) {
            self.file = file
            self.meta = meta
            self.data = data
        }
    }

    /// The socketpairs among `records`: sockets grouped by inode (dups), each checked to be
    /// restorable, then paired with the peer it names. Refused, naming the fd: a listening
    /// or bound socket, queued descriptors or out-of-band data, a queue the image does not
    /// carry, and a peer the process does not hold (another process's end of a pair, a
    /// server's client) unless `unixClose`: then it comes back as if its peer had closed.
    static func pairs(_ records: [Record], unixClose: Bool = false) throws(RestoreError) -> [SocketPair] {
        var ends: [End] = [], meta: [UnixMeta] = []
        for r in records {
            let inode = r.file.identity?.inode ?? 0
            if let i = ends.firstIndex(where: { $0.inode == inode && inode != 0 }) {
                ends[i].fds.append(Int32(r.file.fd))
                continue
            }
            ends.append(try End(r))
            meta.append(r.meta)
        }
        var out: [SocketPair] = [], taken = Set<Int>()
        for i in ends.indices where !taken.contains(i) {
            taken.insert(i)
            let what = "fd \(ends[i].fds[0]) (\(ends[i].name))"
            guard meta[i].peerInode != 0 else {
                out.append(SocketPair(type: meta[i].type, first: ends[i], second: nil))
                continue
            }
            guard let j = ends.indices.first(where: { ends[$0].inode == meta[i].peerInode }) else {
                guard unixClose else {
                    throw .unsupported(what: what, why: "its peer (socket:[\(meta[i].peerInode)]) is held by another process: "
                                           + "only a socketpair between the process's own fds is restored; "
                                           + "--unix-close brings it back with its peer closed, as if the other process had exited; "
                                           + "--inherit-fd gives the process ckpt restore's own fd of that number instead")
                }
                out.append(SocketPair(type: meta[i].type, first: ends[i], second: nil, cutPeer: meta[i].peerInode))
                continue
            }
            guard !taken.contains(j) else {
                throw .unsupported(what: what, why: "connected to socket:[\(meta[i].peerInode)], which is connected elsewhere: "
                                       + "only the two ends of one socketpair are restored")
            }
            guard meta[j].peerInode == ends[i].inode, meta[j].type == meta[i].type else {
                throw .unsupported(what: what, why: "connected to socket:[\(meta[i].peerInode)], which is connected elsewhere: "
                                       + "only the two ends of one socketpair are restored")
            }
            taken.insert(j)
            out.append(SocketPair(type: meta[i].type, first: ends[i], second: ends[j]))
        }
        return out
    }

    /// A listener or a bound socket never connected is `NamedUnixSocket`'s, never a pair's
    /// end. A connection's name (an accepted one has its listener's) is not kept.
    static func check(_ m: UnixMeta, what: String) throws(RestoreError) {
        if NamedUnixSocket.isNamed(m) {
            throw .unsupported(what: what, why: "a listening or bound Unix socket is not one end of a socketpair")
        }
        try checkQueue(m, what: what)
    }

    /// What no restored Unix socket can have: queued descriptors, an out-of-band byte, a
    /// queue the checkpoint could not read.
    static func checkQueue(_ m: UnixMeta, what: String) throws(RestoreError) {
        if m.flags & UInt32(CKPT_SOCK_FLAGS_RIGHTS.rawValue) != 0 {
            throw .unsupported(what: what, why: "a queued message carries file descriptors (SCM_RIGHTS), which the image does not hold")
        }
        if m.flags & UInt32(CKPT_SOCK_FLAGS_OOB.rawValue) != 0 {
            throw .unsupported(what: what, why: "an out-of-band byte (MSG_OOB) is queued: not restored")
        }
        if m.flags & UInt32(CKPT_SOCK_FLAGS_BUSY.rawValue) != 0 {
            throw .unsupported(what: what, why: "a reader held the socket throughout the checkpoint, so its \(m.bytes) queued bytes are not in the image")
        }
    }
}
