#if canImport(Glibc)
import Glibc
#endif
import CkptProtocol

/// An fd of an open file another process of a restored tree holds too (an fd inherited
/// across fork: one open file, one offset), as this image has it.
public struct SharedFileEnd: Equatable, Sendable {
    public var fd: Int32
    public var path: String
    public var flags: Int32
    public var position: UInt64
    public var identity: FileIdentity?
    /// `FileMeta.fileID`: the same in every image that holds this open file.
    public var fileID: UInt64
}

/// An open file of a restored tree that several of its processes share: opened once at its
/// path with its flags and position (by the restorer for its own processes, by the root
/// with their user's rights for another user's, by the restorer as the very file it was for
/// several users': `Opener`, `TreeEnds`), inherited by every process of the tree, placed at
/// the fds of those that held it, so they write at one offset again.
public struct SharedFile: Equatable, Sendable {
    public var fileID: UInt64
    public var path: String
    public var flags: Int32
    public var position: UInt64
    /// The file the image says was open there (device, inode): what another user's open
    /// may fall back to (`ProcessFileAccess`), and what several users' must find (`Opener`).
    public var identity: FileIdentity? = nil

    /// Who opens a tree's shared files.
    public enum Opener: Equatable, Sendable {
        /// The restorer, with its own rights: they are the processes'.
        case restorer
        /// The root stub, with the rights of the one user every process is
        /// (`ProcessFileAccess`).
        case processesUser
        /// The restorer, by the file's identity (`TreeEnds.make(_:byIdentity:)`): the
        /// processes are of several users, and each file is the very one they all held.
        case identity
    }

    /// Who opens the shared files of processes of these users (`restorersOwn`: the
    /// restorer's ids; else their euid and egid): the restorer for its own, the root stub
    /// for one other user, by identity for several.
    static func opener(_ users: [(restorersOwn: Bool, euid: UInt32, egid: UInt32)]) -> Opener {
        if users.allSatisfy(\.restorersOwn) { return .restorer }
        guard let first = users.first else { return .restorer }
        return users.allSatisfy { !$0.restorersOwn && $0.euid == first.euid && $0.egid == first.egid } ? .processesUser : .identity
    }

    /// `path` names the file `identity` records now: the same device and inode (device
    /// numbers are compared, unlike `RestorePlan.checkUnchanged`: the restorer's rights open
    /// it for users who may not, and an inode number alone can be made to match).
    public static func isTheFile(_ path: String, _ identity: FileIdentity) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && identity.isFile(st)
    }
}

extension TreePlan {
    /// The ids of open files more than one image holds.
    public static func openFilesHeldTwice(_ facts: [TreeFacts]) -> Set<UInt64> {
        var seen = Set<UInt64>(), twice = Set<UInt64>()
        for f in facts {
            twice.formUnion(f.fileIDs.intersection(seen))
            seen.formUnion(f.fileIDs)
        }
        return twice
    }

    /// Those of `openFilesHeldTwice` the restore shares. When every image is of one user:
    /// all of them, the restorer's own (the restorer opens them itself: its rights are the
    /// processes') or another's (the root opens them with that user's rights before it
    /// forks the others: `ProcessFileAccess`). When the processes are of several users:
    /// those whose path still names the very file the images recorded (device and inode,
    /// `isTheFile`), which the restorer opens by that identity (`SharedFile.Opener`): every
    /// process that gets it held that very file, so no user's rights decide what it is.
    /// The others are reopened in each process, with its own user's rights, as for one
    /// process (`reopenedApart` names them for the warning).
    public static func sharedFileIDs(_ facts: [TreeFacts],
                                     isTheFile: (String, FileIdentity) -> Bool = SharedFile.isTheFile) -> Set<UInt64> {
        let twice = openFilesHeldTwice(facts)
        guard !oneUser(facts) else { return twice }
        return twice.filter { id in
            guard let file = facts.lazy.compactMap({ $0.openFiles[id] }).first, let identity = file.identity else { return false }
            return isTheFile(file.path, identity)
        }
    }

    /// The paths of the open files several images hold that `shared` leaves out.
    public static func reopenedApart(_ facts: [TreeFacts], shared: Set<UInt64>) -> [String] {
        openFilesHeldTwice(facts).subtracting(shared).sorted().compactMap { id in
            facts.lazy.compactMap { $0.openFiles[id]?.path }.first
        }
    }

    /// Every image's process opens paths with the same rights.
    static func oneUser(_ facts: [TreeFacts]) -> Bool {
        SharedFile.opener(facts.map { ($0.restorersOwn, $0.euid, $0.egid) }) != .identity
    }

    /// Who opens the tree's shared files, and with whose rights (`TreeRestorer.run`).
    public var filesOpener: SharedFile.Opener {
        SharedFile.opener(plans.map { ($0.task.idsAreTheRestorers, $0.task.euid, $0.task.egid) })
    }

    /// Each shared open file once (its offset and flags are one: the first image's).
    static func sharedFiles(_ plans: [RestorePlan]) -> [SharedFile] {
        var files: [UInt64: SharedFile] = [:]
        for plan in plans {
            for end in plan.sharedFileEnds where files[end.fileID] == nil {
                files[end.fileID] = SharedFile(fileID: end.fileID, path: end.path, flags: end.flags, position: end.position,
                                               identity: end.identity)
            }
        }
        return files.values.sorted { $0.fileID < $1.fileID }
    }
}

extension FileIdentity {
    /// `st` (stat(2) of what a path names now) is this file: the same device and inode.
    func isFile(_ st: stat) -> Bool {
        UInt32(truncatingIfNeeded: st.st_dev) == device && UInt64(st.st_ino) == inode
    }

    /// This file and `st`'s, for a refusal: "device D inode I then, device D inode I now".
    func thenAndNow(_ st: stat) -> String {
        "device \(device) inode \(inode) then, device \(UInt32(truncatingIfNeeded: st.st_dev)) inode \(st.st_ino) now"
    }
}
