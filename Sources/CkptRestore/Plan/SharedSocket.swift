#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol

/// One end of a Unix socketpair or connection that spans processes of a restored tree (a
/// parent and the child it forked with one end each; both ends held by both): as this
/// image has it.
public struct SharedSocketEnd: Equatable, Sendable {
    public var fd: Int32
    /// As /proc/PID/fd shows it: "socket:[INODE]".
    public var name: String
    public var inode: UInt64
    /// Its peer's inode; 0 when the peer was closed.
    public var peer: UInt64
    public var type: UInt32
    public var flags: Int32
    /// The messages queued for it to read, oldest first.
    public var messages: [[UInt8]]
    public var shutdown: UInt32
    public var sndbuf: UInt32
    public var rcvbuf: UInt32

    init(_ r: SocketPair.Record) throws(RestoreError) {
        let end = try SocketPair.End(r)
        (fd, name, inode, peer, type) = (Int32(r.file.fd), end.name, end.inode, r.meta.peerInode, r.meta.type)
        (flags, messages, shutdown, sndbuf, rcvbuf) = (end.flags, end.messages, end.shutdown, end.sndbuf, end.rcvbuf)
    }
}

/// A socketpair of a restored tree: made once by the restorer, each end inherited by every
/// process of the tree and placed at the fds of those that held it. `second` nil: the
/// peer was closed (it is closed once `first`'s messages are sent).
public struct SharedSocketPair: Equatable, Sendable {
    public var type: UInt32
    public var first: SharedSocketEnd
    public var second: SharedSocketEnd?
}

extension TreePlan {
    /// The inodes of Unix sockets whose pair spans images: an unnamed socket held by more
    /// than one image, or whose peer another image holds (with the peer's inode). Named
    /// sockets (listeners, bound ones) are made by their names in each process, not shared.
    public static func sharedSocketInodes(_ facts: [TreeFacts]) -> Set<UInt64> {
        var holders: [UInt64: Set<Int>] = [:]
        var sockets: [UInt64: TreeFacts.Socket] = [:]
        for (i, f) in facts.enumerated() {
            for (inode, s) in f.sockets {
                holders[inode, default: []].insert(i)
                sockets[inode] = s
            }
        }
        var shared = Set<UInt64>()
        for (inode, s) in sockets where !s.named {
            var images = holders[inode] ?? []
            let peer = s.peer != 0 && sockets[s.peer]?.named == false ? s.peer : nil
            if let peer { images.formUnion(holders[peer] ?? []) }
            guard images.count > 1 else { continue }
            shared.insert(inode)
            if let peer { shared.insert(peer) }
        }
        return shared
    }

    /// Each shared socketpair once, from the ends the images hold (an end several processes
    /// hold is one open socket: the first image's messages). Refused: a peer no process of
    /// the tree holds, two ends of different types.
    static func sharedSockets(_ plans: [RestorePlan]) throws(RestoreError) -> [SharedSocketPair] {
        var ends: [UInt64: SharedSocketEnd] = [:]
        var who: [UInt64: String] = [:]
        for plan in plans {
            for end in plan.sharedSocketEnds where ends[end.inode] == nil {
                ends[end.inode] = end
                who[end.inode] = "pid \(plan.task.tgid) fd \(end.fd) (\(end.name))"
            }
        }
        var pairs: [SharedSocketPair] = [], taken = Set<UInt64>()
        for inode in ends.keys.sorted() where !taken.contains(inode) {
            guard let end = ends[inode] else { continue }
            taken.insert(inode)
            guard end.peer != 0 else {
                pairs.append(SharedSocketPair(type: end.type, first: end, second: nil))
                continue
            }
            guard let peer = ends[end.peer], peer.peer == inode, peer.type == end.type else {
                throw .unsupported(what: who[inode] ?? end.name,
                                   why: "its peer (socket:[\(end.peer)]) is held by a process outside the restored tree")
            }
            taken.insert(end.peer)
            pairs.append(SharedSocketPair(type: end.type, first: end, second: peer))
        }
        return pairs
    }
}
