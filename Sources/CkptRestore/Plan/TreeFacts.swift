import CkptImage
import CkptProtocol

/// What a tree restore asks of each image before planning it: whose process it is and
/// which pipes it holds ends of (`RestorePlan.treeFacts`).
public struct TreeFacts: Equatable, Sendable {
    public var pid: UInt32
    public var ppid: UInt32
    /// The names (`pipe:[INODE]`) of the pipes its fds are ends of.
    public var pipeNames: Set<String>
    /// Its Unix sockets by inode: the peer's inode (0: none, or closed) and whether it is
    /// named (a listener or a bound socket: made by its name, never a pair's end).
    public var sockets: [UInt64: Socket] = [:]
    /// The open files (`FileMeta.fileID`) of its fds that name a path.
    public var fileIDs: Set<UInt64> = []
    /// Each of `fileIDs`: its path and the file the image says it was (device, inode).
    public var openFiles: [UInt64: OpenFile] = [:]
    /// Its process's ids are the restorer's (its paths are opened with the restorer's rights).
    public var restorersOwn = true
    /// Whose rights its paths are opened with otherwise: its euid and egid
    /// (`ProcessFileAccess`).
    public var euid: UInt32 = 0
    public var egid: UInt32 = 0
    /// The image is a zombie's (its ids and status only: not planned as a process).
    public var zombie: TreePlan.Zombie? = nil
    /// Each fd's open file (`FileMeta.fileID`; absent in images of older modules), pipe
    /// name and socket inode: what `--inherit-fd` replaces in a tree (`without(fds:)`).
    public var fds: [Int32: FD] = [:]
    public struct FD: Equatable, Sendable {
        public var fileID: UInt64?
        public var pipeName: String?
        public var socketInode: UInt64?
    }
    public struct OpenFile: Equatable, Sendable {
        public var path: String
        public var identity: FileIdentity?
    }
    public struct Socket: Equatable, Sendable {
        public var peer: UInt64
        public var named: Bool
    }
}

extension RestorePlan {
    /// An image's `TreeFacts`, by its task, file and unix records only, so a tree's images
    /// can be put in order and compared before each is planned.
    public static func treeFacts(_ reader: ImageReader) throws(RestoreError) -> TreeFacts {
        var names = Set<String>()
        var task: TaskMeta?
        var inodes: [UInt32: UInt64] = [:]  // file record id -> the file's inode
        var sockets: [UInt64: TreeFacts.Socket] = [:]
        var files: [UInt64: TreeFacts.OpenFile] = [:]
        var fds: [Int32: TreeFacts.FD] = [:]
        var fdOf: [UInt32: Int32] = [:]  // file record id -> its fd
        for entry in reader.index where [.file, .task, .unix].contains(entry.type) {
            switch try meta(of: entry, in: reader) {
            case let .file(f):
                if let path = f.path, path.hasPrefix("pipe:[") { names.insert(path) }
                if let path = f.path, path.hasPrefix("/"), let id = f.fileID {
                    files[id] = TreeFacts.OpenFile(path: path, identity: f.identity)
                }
                inodes[entry.id] = f.identity?.inode
                let fd = Int32(f.fd)
                fdOf[entry.id] = fd
                fds[fd] = TreeFacts.FD(fileID: f.fileID, pipeName: f.path.flatMap { $0.hasPrefix("pipe:[") ? $0 : nil })
            case let .unix(u):
                // A unix record follows its file record.
                if let inode = inodes[entry.parent] {
                    sockets[inode] = TreeFacts.Socket(peer: u.peerInode, named: NamedUnixSocket.isNamed(u))
                    if let fd = fdOf[entry.parent] { fds[fd]?.socketInode = inode }
                }
            case let .task(t): task = t
            default: break
            }
        }
        guard let task else { throw .image("no task record: not a process image") }
        let zombie = task.exitStatus.map {
            TreePlan.Zombie(pid: task.tgid, ppid: task.ppid, pgid: task.pgid, sid: task.sid, status: WaitStatus($0))
        }
        return TreeFacts(pid: task.tgid, ppid: task.ppid, pipeNames: names, sockets: sockets, fileIDs: Set(files.keys), openFiles: files,
                         restorersOwn: task.idsAreTheRestorers, euid: task.euid, egid: task.egid, zombie: zombie, fds: fds)
    }
}

extension TreeFacts {
    /// These facts without what its fds `replaced` hold (`--inherit-fd`: the restorer's own
    /// fds take their place), unless another of its fds holds it too: the pipe (a process
    /// may hold the other end), the socket, the open file.
    public func without(fds replaced: Set<Int32>) -> TreeFacts {
        guard !replaced.isEmpty else { return self }
        let kept = fds.filter { !replaced.contains($0.key) }.values
        var facts = self
        for fd in replaced {
            guard let f = fds[fd] else { continue }
            if let name = f.pipeName, !kept.contains(where: { $0.pipeName == name }) { facts.pipeNames.remove(name) }
            if let inode = f.socketInode, !kept.contains(where: { $0.socketInode == inode }) { facts.sockets[inode] = nil }
            if let id = f.fileID, !kept.contains(where: { $0.fileID == id }) {
                facts.fileIDs.remove(id)
                facts.openFiles[id] = nil
            }
        }
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
