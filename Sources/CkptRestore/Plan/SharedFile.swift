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

/// An open file of a restored tree that several of its processes share: opened once by the
/// restorer at its path with its flags and position, inherited by every process of the
/// tree, placed at the fds of those that held it, so they write at one offset again.
public struct SharedFile: Equatable, Sendable {
    public var fileID: UInt64
    public var path: String
    public var flags: Int32
    public var position: UInt64
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
    /// the restorer's own user (the restorer opens them itself, and its rights are then the
    /// processes'), none otherwise (each fd is reopened in its process, with that user's
    /// rights, as for one process: `ProcessFileAccess`).
    public static func sharedFileIDs(_ facts: [TreeFacts]) -> Set<UInt64> {
        facts.allSatisfy(\.restorersOwn) ? openFilesHeldTwice(facts) : []
    }

    /// Each shared open file once (its offset and flags are one: the first image's).
    static func sharedFiles(_ plans: [RestorePlan]) -> [SharedFile] {
        var files: [UInt64: SharedFile] = [:]
        for plan in plans {
            for end in plan.sharedFileEnds where files[end.fileID] == nil {
                files[end.fileID] = SharedFile(fileID: end.fileID, path: end.path, flags: end.flags, position: end.position)
            }
        }
        return files.values.sorted { $0.fileID < $1.fileID }
    }
}
