import CkptImage
import CkptProtocol

/// What a tree restore asks of each image before planning it: whose process it is and
/// what its fds hold (`RestorePlan.treeFacts`): the pipes, Unix sockets and open files that
/// may be shared with the tree's other processes.
public struct TreeFacts: Equatable, Sendable {
    public var pid: UInt32
    public var ppid: UInt32
    /// Its fds, by number.
    public var fds: [Int32: FD] = [:]
    /// Its process's ids are the restorer's (its paths are opened with the restorer's rights).
    public var restorersOwn = true
    /// Whose rights its paths are opened with otherwise: its euid and egid
    /// (`ProcessFileAccess`).
    public var euid: UInt32 = 0
    public var egid: UInt32 = 0
    /// The image is a zombie's (its ids and status only: not planned as a process).
    public var zombie: TreePlan.Zombie? = nil

    /// What an fd holds, as far as a tree is concerned.
    public struct FD: Equatable, Sendable {
        /// Its open file (`FileMeta.fileID`; absent in images of older modules).
        public var fileID: UInt64?
        /// Its path (`pipe:[INODE]` for a pipe, `socket:[INODE]`, a file's path).
        public var path: String?
        /// The file the image says it was (device, inode).
        public var identity: FileIdentity?
        /// A Unix socket's facts.
        public var socket: Socket?
    }
    /// A Unix socket: its inode, the peer's (0: none, or closed) and whether it is named (a
    /// listener or a bound socket: made by its name, never a pair's end).
    public struct Socket: Equatable, Sendable {
        public var inode: UInt64
        public var peer: UInt64
        public var named: Bool
    }
    public struct OpenFile: Equatable, Sendable {
        public var path: String
        public var identity: FileIdentity?
    }

    /// The names (`pipe:[INODE]`) of the pipes its fds are ends of.
    public var pipeNames: Set<String> { Set(fds.values.compactMap { $0.path?.hasPrefix("pipe:[") == true ? $0.path : nil }) }
    /// Its Unix sockets by inode.
    public var sockets: [UInt64: Socket] {
        Dictionary(fds.values.compactMap(\.socket).map { ($0.inode, $0) }, uniquingKeysWith: { a, _ in a })
    }
    /// The open files (`FileMeta.fileID`) of its fds that name a path: each one's path and
    /// the file the image says it was.
    public var openFiles: [UInt64: OpenFile] {
        Dictionary(fds.values.compactMap { f in
            guard let id = f.fileID, let path = f.path, path.hasPrefix("/") else { return nil }
            return (id, OpenFile(path: path, identity: f.identity))
        }, uniquingKeysWith: { a, _ in a })
    }
    public var fileIDs: Set<UInt64> { Set(openFiles.keys) }
}

extension RestorePlan {
    /// An image's `TreeFacts`, by its task, file and unix records only, so a tree's images
    /// can be put in order and compared before each is planned.
    public static func treeFacts(_ reader: ImageReader) throws(RestoreError) -> TreeFacts {
        var task: TaskMeta?
        var fds: [Int32: TreeFacts.FD] = [:]
        var fdOf: [UInt32: Int32] = [:]  // file record id -> its fd
        for entry in reader.index where [.file, .task, .unix].contains(entry.type) {
            switch try meta(of: entry, in: reader) {
            case let .file(f):
                let fd = Int32(f.fd)
                fdOf[entry.id] = fd
                fds[fd] = TreeFacts.FD(fileID: f.fileID, path: f.path, identity: f.identity)
            case let .unix(u):
                // A unix record follows its file record.
                if let fd = fdOf[entry.parent], let inode = fds[fd]?.identity?.inode {
                    fds[fd]?.socket = TreeFacts.Socket(inode: inode, peer: u.peerInode, named: NamedUnixSocket.isNamed(u))
                }
            case let .task(t): task = t
            default: break
            }
        }
        guard let task else { throw .image("no task record: not a process image") }
        let zombie = task.exitStatus.map {
            TreePlan.Zombie(pid: task.tgid, ppid: task.ppid, pgid: task.pgid, sid: task.sid, status: WaitStatus($0))
        }
        return TreeFacts(pid: task.tgid, ppid: task.ppid, fds: fds, restorersOwn: task.idsAreTheRestorers, euid: task.euid,
                         egid: task.egid, zombie: zombie)
    }
}

extension TreeFacts {
    /// These facts without the fds `replaced` (`--inherit-fd`: the restorer's own fds take
    /// their place): a pipe, socket or open file another of its fds holds stays its.
    public func without(fds replaced: Set<Int32>) -> TreeFacts {
        var facts = self
        for fd in replaced { facts.fds[fd] = nil }
        return facts
    }

    /// For `--inherit-fd` in a tree: of `root`'s fds `named`, those this process holds the
    /// same open file at (an fd inherited across fork: the same `fileID`, at the same
    /// number); the root itself, all of them. An fd of another open file at that number is
    /// the process's own, planned as such; so is every fd of an image of an older module
    /// (no `fileID`).
    public func inherited(_ named: [Int32], root: TreeFacts) -> Set<Int32> {
        if pid == root.pid { return Set(named) }
        return Set(named.filter { fd in
            guard let id = root.fds[fd]?.fileID else { return false }
            return fds[fd]?.fileID == id
        })
    }
}
