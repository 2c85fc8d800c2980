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
        for entry in reader.index where [.file, .task, .unix].contains(entry.type) {
            switch try meta(of: entry, in: reader) {
            case let .file(f):
                if let path = f.path, path.hasPrefix("pipe:[") { names.insert(path) }
                if let path = f.path, path.hasPrefix("/"), let id = f.fileID {
                    files[id] = TreeFacts.OpenFile(path: path, identity: f.identity)
                }
                inodes[entry.id] = f.identity?.inode
            case let .unix(u):
                // A unix record follows its file record.
                if let inode = inodes[entry.parent] {
                    sockets[inode] = TreeFacts.Socket(peer: u.peerInode, named: NamedUnixSocket.isNamed(u))
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
                         restorersOwn: task.idsAreTheRestorers, euid: task.euid, egid: task.egid, zombie: zombie)
    }
}
