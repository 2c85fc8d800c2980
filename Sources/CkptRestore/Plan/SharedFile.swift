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
/// with their user's rights for another user's: `TreeEnds`), inherited by every process of
/// the tree, placed at the fds of those that held it, so they write at one offset again.
public struct SharedFile: Equatable, Sendable {
    public var fileID: UInt64
    public var path: String
    public var flags: Int32
    public var position: UInt64
    /// The file the image says was open there (device, inode): what another user's open
    /// may fall back to (`ProcessFileAccess`).
    public var identity: FileIdentity? = nil
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

    /// Those of `openFilesHeldTwice` the restore shares: all of them when every image is of
    /// one user, the restorer's own (the restorer opens them itself: its rights are the
    /// processes') or another (the root opens them with that user's rights before it forks
    /// the others: `ProcessFileAccess`); none when the processes are of several users (each
    /// fd is reopened in its process, with its own user's rights, as for one process).
    public static func sharedFileIDs(_ facts: [TreeFacts]) -> Set<UInt64> {
        oneUser(facts) ? openFilesHeldTwice(facts) : []
    }

    /// Every image's process opens paths with the same rights.
    static func oneUser(_ facts: [TreeFacts]) -> Bool {
        if facts.allSatisfy(\.restorersOwn) { return true }
        return facts.allSatisfy { !$0.restorersOwn && $0.euid == facts[0].euid && $0.egid == facts[0].egid }
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
