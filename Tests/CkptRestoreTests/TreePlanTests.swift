#if canImport(Glibc)
import Glibc
#endif
import CkptImage
import CkptProtocol
import Foundation
import Testing
@testable import CkptRestore

/// A process tree's images planned together: its shape, and the pipes between them.
@Suite struct TreePlanTests {
    let builder = RestorePlanTests()

    /// The image of process `pid` (child of `ppid`) holding `ends` (fd, pipe name, read end,
    /// bytes held: a read end's record carries them).
    func image(_ pid: UInt32, parent ppid: UInt32, _ ends: [(fd: UInt32, name: String, reading: Bool, held: [UInt8])] = [],
               size: UInt32 = 65536, extra: [FileMeta] = [], uid: UInt32 = getuid()) throws -> (ImageReader, String) {
        let files = ends.map { FileMeta(fd: $0.fd, fFlags: UInt32($0.reading ? O_RDONLY : O_WRONLY | O_NONBLOCK), pos: 0, path: $0.name) }
            + extra
        var pipes: [Int: (PipeMeta, [UInt8])] = [:]
        for (i, e) in ends.enumerated() {
            pipes[i] = (PipeMeta(size: size, bytes: UInt32(e.held.count)), e.reading ? e.held : [])
        }
        return try builder.image(vmas: [builder.anon], files: files, pipes: pipes,
                                 task: TaskMeta(pid: pid, tgid: pid, ppid: ppid, comm: "t", uid: uid, gid: getgid(),
                                                euid: uid == getuid() ? geteuid() : uid, egid: getegid()))
    }

    func refusal<T>(_ body: () throws(RestoreError) -> T) -> String {
        do { _ = try body(); return "accepted" } catch { return "\(error)" }
    }

    /// Breadth first from the one root, whatever order the images came in; each process's
    /// parent found. Refused: a pid twice, two roots, none (a cycle), a process not under
    /// the root.
    @Test func theTreesShape() throws {
        let (order, parents) = try TreePlan.shape([(30, 20), (10, 1), (20, 10), (21, 10), (40, 30)])
        #expect(order == [1, 2, 3, 0, 4])
        #expect(parents == [nil, 0, 0, 1, 3])
        #expect(refusal { () throws(RestoreError) in try TreePlan.shape([(10, 1), (10, 1)]) }.contains("two of them are of pid 10"))
        #expect(refusal { () throws(RestoreError) in try TreePlan.shape([(10, 1), (20, 2)]) }
            .contains("they are not one process tree: 2 processes whose parent is not among them: 10 (parent 1), 20 (parent 2)"))
        #expect(refusal { () throws(RestoreError) in try TreePlan.shape([(10, 1), (20, 30), (30, 20)]) }
            .contains("pids 20 30 are not descendants of 10"))
        #expect(refusal { () throws(RestoreError) in try TreePlan.shape([(20, 30), (30, 20)]) }
            .contains("not one process tree: no processes whose parent is not among them"))
    }

    /// Pipes are shared when more than one image names them; each image's ends of those are
    /// planned as shared (not refused for the end it lacks), its other pipes as before.
    @Test func pipesBetweenTheTreesProcesses() throws {
        let data = Array("queued".utf8)
        let (parent, p1) = try image(10, parent: 1, [(5, "pipe:[9]", false, []), (6, "pipe:[8]", true, []),
                                                     (7, "pipe:[3]", true, []), (8, "pipe:[3]", false, [])])
        let (child, p2) = try image(20, parent: 10, [(0, "pipe:[9]", true, data), (1, "pipe:[8]", false, [])])
        let (grandchild, p3) = try image(30, parent: 20, [(1, "pipe:[8]", false, [])])
        defer { for p in [p1, p2, p3] { unlink(p) } }
        let facts = try [parent, child, grandchild].map { r throws(RestoreError) in try RestorePlan.treeFacts(r) }
        #expect(facts.map(\.pid) == [10, 20, 30] && facts.map(\.ppid) == [1, 10, 20])
        #expect(facts[0].pipeNames == ["pipe:[9]", "pipe:[8]", "pipe:[3]"])
        let shared = TreePlan.sharedPipeNames(facts.map(\.pipeNames))
        #expect(shared == ["pipe:[9]", "pipe:[8]"])
        // Alone, the child's image is refused for the ends it lacks; in the tree it is not.
        #expect(refusal { () throws(RestoreError) in try RestorePlan(child, shellJob: false) }.contains("held by another process"))
        let plans = try [grandchild, parent, child].map { r throws(RestoreError) in
            try RestorePlan(r, shellJob: false, sharedPipes: shared)
        }
        #expect(plans[1].descriptors == [.sharedPipe(fd: 5, name: "pipe:[9]"), .sharedPipe(fd: 6, name: "pipe:[8]"),
                                         .pipe(fd: 7, name: "pipe:[3]"), .pipe(fd: 8, name: "pipe:[3]")])
        #expect(plans[1].pipes.map(\.name) == ["pipe:[3]"])
        #expect(plans[2].sharedPipeEnds.map(\.fd) == [0, 1] && plans[2].sharedPipeEnds[0].data == data)
        let tree = try TreePlan(plans)
        #expect(tree.plans.map(\.task.tgid) == [10, 20, 30] && tree.order == [1, 2, 0] && tree.parents == [nil, 0, 1])
        #expect(tree.pipes == [SharedPipe(name: "pipe:[8]", size: 65536, data: [], readFlags: O_RDONLY, writeFlags: O_WRONLY | O_NONBLOCK),
                               SharedPipe(name: "pipe:[9]", size: 65536, data: data, readFlags: O_RDONLY, writeFlags: O_WRONLY | O_NONBLOCK)])
    }

    /// A shared pipe needs a read end and a write end in the tree, and one capacity.
    @Test func sharedPipesAreWholeInTheTree() throws {
        // Both hold the write end: the read end is a process's outside the tree.
        let (a, p1) = try image(10, parent: 1, [(1, "pipe:[9]", false, [])])
        let (b, p2) = try image(20, parent: 10, [(1, "pipe:[9]", false, [])])
        let (c, p3) = try image(20, parent: 10, [(0, "pipe:[9]", true, [])], size: 4096)
        defer { for p in [p1, p2, p3] { unlink(p) } }
        let plans = try [a, b].map { r throws(RestoreError) in try RestorePlan(r, shellJob: false, sharedPipes: ["pipe:[9]"]) }
        #expect(refusal { () throws(RestoreError) in try TreePlan(plans) }
            == "pid 10 fd 1 (pipe:[9]): its read end is held by a process outside the restored tree (pipe:[9])")
        let other = try RestorePlan(c, shellJob: false, sharedPipes: ["pipe:[9]"])
        #expect(refusal { () throws(RestoreError) in try TreePlan([plans[0], other]) }.contains("a capacity of 4096 bytes"))
    }

    /// A zombie's image is its ids and status: its facts say so, and it is refused alone
    /// (it comes back only with its parent); in a tree its parent must be one of the
    /// processes, and it goes to its session and group as a process would.
    @Test func zombiesComeBackWithTheirParents() throws {
        let zombieTask = TaskMeta(pid: 30, tgid: 30, ppid: 10, comm: "z", uid: getuid(), gid: getgid(), euid: geteuid(),
                                  egid: getegid(), pgid: 30, sid: 10, exitStatus: 5 << 8)
        let (z, p0) = try builder.image(vmas: [], task: zombieTask)
        defer { unlink(p0) }
        let facts = try RestorePlan.treeFacts(z)
        #expect(facts.zombie == TreePlan.Zombie(pid: 30, ppid: 10, pgid: 30, sid: 10, status: WaitStatus(5 << 8)))
        #expect(refusal { () throws(RestoreError) in try RestorePlan(z, shellJob: false) }
            .contains("pid 30 was a zombie (exited with 5): it comes back only with its parent"))
        let (parent, p1) = try builder.image(vmas: [builder.anon], task: TaskMeta(
            pid: 10, tgid: 10, ppid: 1, comm: "t", uid: getuid(), gid: getgid(), euid: geteuid(), egid: getegid(), pgid: 10, sid: 10))
        defer { unlink(p1) }
        let plan = try RestorePlan(parent, shellJob: false)
        let zombie = try #require(facts.zombie)
        let tree = try TreePlan([plan], zombies: [zombie])
        #expect(tree.zombieParents == [0])
        // Its own group, in its parent's session.
        #expect(tree.zombiePlacements == [TreePlan.Placement(newSession: false, group: .own, warning: nil)])
        var orphan = zombie
        orphan.ppid = 99
        #expect(refusal { () throws(RestoreError) in try TreePlan([plan], zombies: [orphan]) }
            .contains("pid 30 is a zombie whose parent 99 is not among them"))
        #expect(refusal { () throws(RestoreError) in try TreePlan([], zombies: [zombie]) }.contains("they are all zombies'"))
        var stopped = zombie
        stopped.status = WaitStatus(0x137f)
        #expect(refusal { () throws(RestoreError) in try TreePlan([plan], zombies: [stopped]) }.contains("is no exit's"))
    }

    /// One check of a pipe end's and a socket end's record, whether the process holds the
    /// pipe or pair alone or shares it with the tree: the same refusal either way for bytes
    /// the image lacks and for messages not framed as the header says. (Bytes above a pipe's
    /// capacity never reach a plan: the image reader's bounds refuse the record.)
    @Test func anEndsRecordIsCheckedAloneAndInATree() throws {
        func both(_ files: [FileMeta], pipes: [Int: (PipeMeta, [UInt8])] = [:], sockets: [Int: (UnixMeta, [UInt8])] = [:],
                  shared: String) throws -> [String] {
            let (r, p) = try builder.image(vmas: [builder.anon], files: files, pipes: pipes, sockets: sockets)
            defer { unlink(p) }
            let inode = UInt64(shared.filter(\.isNumber)) ?? 0
            return [refusal { () throws(RestoreError) in try RestorePlan(r, shellJob: false) },
                    refusal { () throws(RestoreError) in
                        try RestorePlan(r, shellJob: false, sharedPipes: [shared], sharedSockets: [inode, inode + 1]) }]
        }
        let pipe = [FileMeta(fd: 3, fFlags: UInt32(O_RDONLY), pos: 0, path: "pipe:[9]"),
                    FileMeta(fd: 4, fFlags: UInt32(O_WRONLY), pos: 0, path: "pipe:[9]")]
        let lacking = try both(pipe, pipes: [0: (PipeMeta(size: 4096, bytes: 9), []), 1: (PipeMeta(size: 4096, bytes: 0), [])],
                               shared: "pipe:[9]")
        #expect(lacking.allSatisfy { $0.contains("fd 3 (pipe:[9])") && $0.contains("it held 9 bytes, which the image does not carry") },
                "\(lacking)")

        let sockets = [FileMeta(fd: 3, fFlags: UInt32(O_RDWR), pos: 0, path: "socket:[100]",
                                identity: FileIdentity(inode: 100, device: 8, size: 0, mtimeNs: 0)),
                       FileMeta(fd: 4, fFlags: UInt32(O_RDWR), pos: 0, path: "socket:[101]",
                                identity: FileIdentity(inode: 101, device: 8, size: 0, mtimeNs: 0))]
        func unix(peer: UInt64, bytes: UInt64) -> UnixMeta {
            UnixMeta(type: UInt32(SOCK_DGRAM.rawValue), state: 1, flags: 0, peerInode: peer, shutdown: 0, bytes: bytes,
                     sndbuf: 212_992, rcvbuf: 212_992)
        }
        let notCarried = try both(sockets, sockets: [0: (unix(peer: 101, bytes: 7), []), 1: (unix(peer: 100, bytes: 0), [])],
                                  shared: "socket:[100]")
        #expect(notCarried.allSatisfy { $0.contains("fd 3 (socket:[100])") && $0.contains("it held 7 bytes, which the image does not carry") },
                "\(notCarried)")
        let unframed = try both(sockets, sockets: [0: (unix(peer: 101, bytes: 3), [1, 2, 3]), 1: (unix(peer: 100, bytes: 0), [])],
                                shared: "socket:[100]")
        #expect(unframed.allSatisfy { $0.contains("messages are not framed as the header says") }, "\(unframed)")
    }

    /// Sessions and groups from the images' ids: a leader leads again, a group a process of
    /// the tree led (or the root's) is joined again, an id of a process outside the tree
    /// is warned about; images without the ids (older modules) keep their parents'.
    @Test func sessionsAndGroupsAsTheyWere() throws {
        func plan(_ pid: UInt32, _ ppid: UInt32, pgid: UInt32?, sid: UInt32?) throws -> RestorePlan {
            let (r, p) = try builder.image(vmas: [builder.anon], task: TaskMeta(pid: pid, tgid: pid, ppid: ppid, comm: "t", uid: getuid(),
                                                                                gid: getgid(), euid: geteuid(), egid: getegid(),
                                                                                pgid: pgid, sid: sid))
            defer { unlink(p) }
            return try RestorePlan(r, shellJob: false)
        }
        let tree = try TreePlan([
            plan(10, 1, pgid: 5, sid: 5),  // the root, in its shell's group and session
            plan(20, 10, pgid: 20, sid: 5),  // a job: its own group
            plan(30, 20, pgid: 30, sid: 30),  // a daemon's helper: its own session
            plan(21, 10, pgid: 20, sid: 5),  // in 20's group
            plan(22, 10, pgid: 5, sid: 5),  // in the root's
            plan(23, 10, pgid: 99, sid: 5),  // a group no process of the tree led
            plan(24, 10, pgid: 7, sid: 7),  // another session (its leader not in the tree)
            plan(25, 10, pgid: nil, sid: nil),  // an older module's image
        ])
        let byPid = Dictionary(uniqueKeysWithValues: zip(tree.plans.map(\.task.tgid), tree.placements))
        let index20 = try #require(tree.plans.firstIndex { $0.task.tgid == 20 })
        #expect(byPid[10] == TreePlan.Placement())
        #expect(byPid[20] == TreePlan.Placement(group: .own))
        #expect(byPid[30] == TreePlan.Placement(newSession: true))
        #expect(byPid[21] == TreePlan.Placement(group: .of(index: index20)))
        #expect(byPid[22] == TreePlan.Placement(group: .of(index: 0)))
        #expect(byPid[23]?.group == .inherited && byPid[23]?.warning?.contains("process group 99, which no process of the tree led") == true)
        #expect(byPid[24]?.warning == "pid 24 was in session 7, not its parent's: it is in its parent's session now")
        #expect(byPid[25] == TreePlan.Placement())

        // A group a zombie led: a live process and another zombie join it (`.ofZombie`),
        // the leading zombie made first whatever order the images came in.
        let zombieTree = try TreePlan([plan(10, 1, pgid: 5, sid: 5), plan(26, 10, pgid: 40, sid: 5)], zombies: [
            TreePlan.Zombie(pid: 41, ppid: 10, pgid: 40, sid: 5, status: WaitStatus(0)),
            TreePlan.Zombie(pid: 40, ppid: 10, pgid: 40, sid: 5, status: WaitStatus(5 << 8)),
            TreePlan.Zombie(pid: 42, ppid: 10, pgid: 42, sid: 5, status: WaitStatus(0)),
        ])
        #expect(zombieTree.placements[1] == TreePlan.Placement(group: .ofZombie(index: 1)))
        #expect(zombieTree.zombiePlacements == [TreePlan.Placement(group: .ofZombie(index: 1)), TreePlan.Placement(group: .own),
                                                TreePlan.Placement(group: .own)])
        #expect(zombieTree.zombieOrder == [1, 2, 0])
    }

    /// A socketpair between a parent and its child (one end each), and one end both hold:
    /// shared, planned as the tree's, paired again with the messages each end had queued.
    /// A named socket is never shared (made by its name); a peer outside the tree is refused.
    @Test func socketpairsBetweenTheTreesProcesses() throws {
        func socket(_ fd: UInt32, _ inode: UInt64) -> FileMeta {
            FileMeta(fd: fd, fFlags: UInt32(O_RDWR), pos: 0, path: "socket:[\(inode)]",
                     identity: FileIdentity(inode: inode, device: 8, size: 0, mtimeNs: 0))
        }
        func unix(peer: UInt64, bytes: UInt64 = 0) -> UnixMeta {
            UnixMeta(type: UInt32(SOCK_SEQPACKET.rawValue), state: 1, flags: 0, peerInode: peer, shutdown: 0, bytes: bytes,
                     sndbuf: 212_992, rcvbuf: 212_992)
        }
        let hello = Array("hello".utf8)
        let framed = UnixMessages.join([hello])
        /// The image's facts, and its plan with `shared` (nil: not planned).
        func image(_ pid: UInt32, _ ppid: UInt32, _ files: [FileMeta], _ sockets: [Int: (UnixMeta, [UInt8])],
                   shared: Set<UInt64>? = nil) throws -> (plan: RestorePlan?, facts: TreeFacts) {
            let (r, p) = try builder.image(vmas: [builder.anon], files: files, sockets: sockets,
                                           task: TaskMeta(pid: pid, tgid: pid, ppid: ppid, comm: "t", uid: getuid(), gid: getgid(),
                                                          euid: geteuid(), egid: getegid()))
            defer { unlink(p) }
            return (try shared.map { try RestorePlan(r, shellJob: false, sharedSockets: $0) }, try RestorePlan.treeFacts(r))
        }
        // Parent: end 100 (peer 101) with "hello" queued; child: end 101 (peer 100).
        let parentFiles = [socket(3, 100)], childFiles = [socket(5, 101)]
        let parentSockets = [0: (unix(peer: 101, bytes: UInt64(framed.count)), framed)], childSockets = [0: (unix(peer: 100), [UInt8]())]
        let parentFacts = try image(10, 1, parentFiles, parentSockets).facts
        let childFacts = try image(20, 10, childFiles, childSockets).facts
        #expect(parentFacts.sockets == [100: TreeFacts.Socket(inode: 100, peer: 101, named: false)])
        let shared = TreePlan.sharedSocketInodes([parentFacts, childFacts])
        #expect(shared == [100, 101])
        let parent = try #require(try image(10, 1, parentFiles, parentSockets, shared: shared).plan)
        let child = try #require(try image(20, 10, childFiles, childSockets, shared: shared).plan)
        #expect(parent.descriptors == [.sharedSocket(fd: 3, name: "socket:[100]")] && parent.socketPairs.isEmpty)
        let tree = try TreePlan([child, parent])
        #expect(tree.sockets.count == 1)
        #expect(tree.sockets[0].first.inode == 100 && tree.sockets[0].first.messages == [hello])
        #expect(tree.sockets[0].second?.inode == 101 && tree.sockets[0].second?.fd == 5)
        #expect(child.treeEnds.map(\.key) == ["socket:[101]"] && parent.treeEnds.map(\.fd) == [3])

        // Without the child's image the parent's end is its own (refused alone, as before).
        #expect(TreePlan.sharedSocketInodes([parentFacts]).isEmpty)
        // Both processes hold end 100, its peer 101 a process's outside the tree.
        let both = try image(20, 10, [socket(4, 100)], [0: (unix(peer: 101), [])])
        #expect(TreePlan.sharedSocketInodes([parentFacts, both.facts]) == [100])
        let a = try #require(try image(10, 1, parentFiles, [0: (unix(peer: 101), [])], shared: [100]).plan)
        let b = try #require(try image(20, 10, [socket(4, 100)], [0: (unix(peer: 101), [])], shared: [100]).plan)
        #expect(refusal { () throws(RestoreError) in try TreePlan([a, b]) }
            == "pid 10 fd 3 (socket:[100]): its peer (socket:[101]) is held by a process outside the restored tree")
        // A named peer (a listener's bound socket) is not a pair's end.
        let named = TreeFacts(pid: 20, ppid: 10, fds: [3: TreeFacts.FD(path: "socket:[101]",
                                                                      socket: TreeFacts.Socket(inode: 101, peer: 0, named: true))])
        #expect(TreePlan.sharedSocketInodes([parentFacts, named]).isEmpty)
    }

    /// An open file several images hold (the same `fileID`: an fd inherited across fork) is
    /// shared when every process is one user (opened by the restorer for its own, by the
    /// root stub as another), and its fds planned as the tree's; processes of several users
    /// share it only while its path names the very file the images recorded (opened by that
    /// identity), else each reopens it, as one restore does.
    @Test func openFilesTheTreesProcessesShare() throws {
        let log = FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 50, path: "/var/log/app.log", fileID: 7)
        let other = FileMeta(fd: 4, fFlags: UInt32(O_RDONLY), pos: 0, path: "/etc/hostname", fileID: 8)
        let (parent, p1) = try image(10, parent: 1, extra: [log, other])
        let (child, p2) = try image(20, parent: 10, extra: [log])
        let (stranger, p3) = try image(20, parent: 10, extra: [log], uid: getuid() + 1)
        defer { for p in [p1, p2, p3] { unlink(p) } }
        let facts = try [parent, child].map { r throws(RestoreError) in try RestorePlan.treeFacts(r) }
        #expect(facts[0].fileIDs == [7, 8] && facts.allSatisfy(\.restorersOwn))
        let shared = TreePlan.sharedFileIDs(facts)
        #expect(shared == [7])
        let plans = try [parent, child].map { r throws(RestoreError) in try RestorePlan(r, shellJob: false, sharedFiles: shared) }
        #expect(plans[0].descriptors == [.sharedFile(fd: 1, path: "/var/log/app.log"),
                                         .path(fd: 4, path: "/etc/hostname", flags: O_RDONLY, position: 0, identity: nil)])
        #expect(plans[1].treeEnds.map(\.key) == [TreeEnds.key(file: 7)])
        let tree = try TreePlan(plans)
        #expect(tree.files == [SharedFile(fileID: 7, path: "/var/log/app.log", flags: O_WRONLY, position: 50)])
        #expect(tree.filesOpener == .restorer)
        // A parent of the restorer's user and a child of another: two users. The image
        // records no identity of the file: not shared, named for the warning.
        let strangerFacts = try RestorePlan.treeFacts(stranger)
        #expect(!strangerFacts.restorersOwn && TreePlan.sharedFileIDs([facts[0], strangerFacts], isTheFile: { _, _ in true }).isEmpty)
        #expect(TreePlan.openFilesHeldTwice([facts[0], strangerFacts]) == [7])
        #expect(TreePlan.reopenedApart([facts[0], strangerFacts], shared: []) == ["/var/log/app.log"])
        // With its identity: shared while the path names that file (asked of `isTheFile`
        // with the path and identity), opened by identity; reopened apart when not.
        var known = log
        known.identity = FileIdentity(inode: 44, device: 9, size: 0, mtimeNs: 0)
        let (parentKnown, p6) = try image(10, parent: 1, extra: [known])
        let (strangerKnown, p7) = try image(20, parent: 10, extra: [known], uid: getuid() + 1)
        defer { for p in [p6, p7] { unlink(p) } }
        let mixed = try [parentKnown, strangerKnown].map { r throws(RestoreError) in try RestorePlan.treeFacts(r) }
        var asked: [String] = []
        #expect(TreePlan.sharedFileIDs(mixed, isTheFile: { path, id in asked.append("\(path) \(id.device):\(id.inode)"); return true }) == [7])
        #expect(asked == ["/var/log/app.log 9:44"])
        #expect(TreePlan.sharedFileIDs(mixed, isTheFile: { _, _ in false }).isEmpty)
        #expect(TreePlan.reopenedApart(mixed, shared: [7]).isEmpty)
        let mixedPlans = try [parentKnown, strangerKnown].map { r throws(RestoreError) in try RestorePlan(r, shellJob: false, sharedFiles: [7]) }
        #expect(try TreePlan(mixedPlans).filesOpener == .identity)
        // Both of one other user: shared (the root opens it with that user's rights), whatever
        // the path names now.
        let (strangerParent, p4) = try image(10, parent: 1, extra: [log, other], uid: getuid() + 1)
        defer { unlink(p4) }
        let both = [try RestorePlan.treeFacts(strangerParent), strangerFacts]
        #expect(TreePlan.sharedFileIDs(both, isTheFile: { _, _ in false }) == [7])
        let strangers = try [strangerParent, stranger].map { r throws(RestoreError) in try RestorePlan(r, shellJob: false, sharedFiles: [7]) }
        #expect(try TreePlan(strangers).filesOpener == .processesUser)
        let (thirdUser, p5) = try image(10, parent: 1, extra: [log], uid: getuid() + 2)
        defer { unlink(p5) }
        #expect(TreePlan.sharedFileIDs([try RestorePlan.treeFacts(thirdUser), strangerFacts]).isEmpty)
    }

    /// Processes of several users' shared file (`TreeEnds.make(_:byIdentity:)`): opened as
    /// the very file the images recorded, at its offset with its flags; refused when the path
    /// names another file now (replaced, or a symlink to another put there) or the image
    /// recorded none. Without `byIdentity` the path is opened whatever it names.
    @Test func severalUsersSharedFileIsOpenedAsTheFileTheyHeld() throws {
        let path = "/tmp/ckpt-byidentity-\(getpid())", other = path + ".other"
        for p in [path, other] {
            let fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
            _ = write(fd, "0123456789", 10)
            close(fd)
        }
        defer { for p in [path, other, path + ".moved"] { unlink(p) } }
        var st = stat()
        stat(path, &st)
        let id = FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev), size: 10, mtimeNs: 0)
        let file = SharedFile(fileID: 7, path: path, flags: O_WRONLY | O_APPEND, position: 3, identity: id)
        let fd = try #require(try TreeEnds.make(file, byIdentity: true)[TreeEnds.key(file: 7)])
        defer { close(fd) }
        var got = stat()
        fstat(fd, &got)
        #expect(got.st_ino == st.st_ino && lseek(fd, 0, SEEK_CUR) == 3)
        #expect(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK) == O_WRONLY | O_APPEND)
        // Replaced by another file: refused.
        rename(path, path + ".moved")
        rename(other, path)
        #expect(refusal { () throws(RestoreError) in try TreeEnds.make(file, byIdentity: true) }.contains("it is not the file the processes held"))
        // A symlink to the file held: that file. A symlink to another: refused.
        unlink(path)
        symlink(path + ".moved", path)
        #expect(try TreeEnds.make(file, byIdentity: true).values.allSatisfy { close($0) == 0 })
        unlink(path)
        close(open(other, O_CREAT | O_WRONLY, 0o600))
        symlink(other, path)
        #expect(refusal { () throws(RestoreError) in try TreeEnds.make(file, byIdentity: true) }.contains("device \(id.device) inode \(id.inode) then"))
        var unknown = file
        unknown.identity = nil
        #expect(refusal { () throws(RestoreError) in try TreeEnds.make(unknown, byIdentity: true) }.contains("the image does not record which file it was"))
        #expect(try TreeEnds.make(unknown).values.allSatisfy { close($0) == 0 })
    }

    /// `--inherit-fd` in a tree (`TreeFacts.inherited`, `without(fds:)`): the root's named
    /// fds, and another process's fd of that number only when it is the same open file;
    /// what a replaced fd held leaves the facts unless another fd holds it too.
    @Test func inheritedFdsOfATree() throws {
        let log = FileIdentity(inode: 9, device: 1, size: 0, mtimeNs: 0)
        let root = TreeFacts(pid: 10, ppid: 1, fds: [
            1: TreeFacts.FD(fileID: 1, path: "pipe:[5]"),
            2: TreeFacts.FD(fileID: 2, path: "socket:[77]", socket: TreeFacts.Socket(inode: 77, peer: 78, named: false)),
            4: TreeFacts.FD(fileID: 3, path: "/log", identity: log),
        ])
        let child = TreeFacts(pid: 20, ppid: 10, fds: [
            1: TreeFacts.FD(fileID: 1, path: "pipe:[5]"), 2: TreeFacts.FD(fileID: 9, path: "/other"),
            6: TreeFacts.FD(fileID: 8, path: "pipe:[5]"),
        ])
        #expect(root.pipeNames == ["pipe:[5]"] && root.sockets.keys.sorted() == [77] && root.fileIDs == [3])
        #expect(root.openFiles == [3: TreeFacts.OpenFile(path: "/log", identity: log)])
        #expect(root.inherited([1, 2, 4], root: root) == [1, 2, 4])
        #expect(child.inherited([1, 2, 4], root: root) == [1])
        var old = child
        old.fds[1]?.fileID = nil
        #expect(old.inherited([1, 2], root: root).isEmpty)
        let rootLeft = root.without(fds: [1, 2, 4])
        #expect(rootLeft.pipeNames.isEmpty && rootLeft.sockets.isEmpty && rootLeft.fileIDs.isEmpty && rootLeft.openFiles.isEmpty)
        // The child's fd 6 is the pipe's other end: the pipe stays its.
        #expect(child.without(fds: [1]).pipeNames == ["pipe:[5]"])
        #expect(root.without(fds: []) == root)
    }

    /// `SharedFile.isTheFile`: the device and inode at the path now, through symlinks.
    @Test func aSharedFileIsTheFileByDeviceAndInode() throws {
        let path = "/tmp/ckpt-isthefile-\(getpid())", link = path + ".link", other = path + ".other"
        for p in [path, other] { close(open(p, O_CREAT | O_WRONLY, 0o600)) }
        defer { for p in [path, link, other] { unlink(p) } }
        symlink(path, link)
        var st = stat()
        stat(path, &st)
        let id = FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev), size: 0, mtimeNs: 0)
        #expect(SharedFile.isTheFile(path, id) && SharedFile.isTheFile(link, id))
        #expect(!SharedFile.isTheFile(other, id) && !SharedFile.isTheFile(path + ".gone", id))
        var elsewhere = id
        elsewhere.device &+= 1
        #expect(!SharedFile.isTheFile(path, elsewhere))
    }

    /// Within one image, fds of one open file (`2>&1`: the same `fileID`) are opened once:
    /// the later ones are the earlier fd again. Without ids (older images) each is opened.
    @Test func fdsOfOneOpenFileInOneProcess() throws {
        let out = FileMeta(fd: 1, fFlags: UInt32(O_WRONLY), pos: 9, path: "/tmp/out", fileID: 3)
        var err = out
        err.fd = 2
        let other = FileMeta(fd: 3, fFlags: UInt32(O_WRONLY), pos: 9, path: "/tmp/out", fileID: 4)
        let (r, p) = try image(10, parent: 1, extra: [out, err, other])
        defer { unlink(p) }
        #expect(try RestorePlan(r, shellJob: false).sameOpenFile == [2: 1])
        var old = out, oldErr = err
        (old.fileID, oldErr.fileID) = (nil, nil)
        let (r2, p2) = try image(10, parent: 1, extra: [old, oldErr])
        defer { unlink(p2) }
        #expect(try RestorePlan(r2, shellJob: false).sameOpenFile.isEmpty)
    }
}
