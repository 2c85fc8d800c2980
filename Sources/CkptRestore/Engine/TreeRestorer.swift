#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CkptImage
import CkptReplay
import SystemPackage

/// `ckpt restore` of a process tree's images (`ckpt checkpoint --tree`): each process made
/// by its parent's fork, as it was, so the parent may wait for it and it is told of the
/// parent's end as before.
///
/// ```
///  restorer                                       the tree
///  pipes, socketpairs and open files the processes share: made with what they held,
///    their flags, a file at its offset (several users': the very file they held,
///    by its device and inode) (TreeEnds; inherited)
///  the root: stub started, seized, cleared, setsid     root
///    (another user's tree: the files it shares opened
///    in the root with that user's rights, TreeEnds.open)
///  each other process, breadth first: clone3 inside     ├─ child (the image's pid)
///    its parent (traced by PTRACE_O_TRACEFORK), cleared │   └─ grandchild
///    (setsid if it led a session)
///  process groups as they were (TreePlan.placements): leaders, then each zombie forked
///    by its parent and placed, then those joining a group;
///    then each zombie detached at its exit_group or its      └─ zombie (exits again:
///    signal (MadeZombie.swift)                                   its parent's to wait for)
///  the restorer's pipe ends closed
///  each process built as one restore builds it (Restorer.build), its ends of the shared
///    pipes and sockets dup2'd to its fds; then each let run (SIGCONT, detach)
/// ```
/// All or nothing: a failure at any step kills every process made so far.
public struct TreeRestorer {
    let tree: TreePlan
    let restorers: [Restorer]

    /// `readers` and `parents` (the pre-copy images) in the order of `tree.plans`.
    public init(tree: TreePlan, readers: [ImageReader], parents: [ImageReader?], replayer: RestartReplayer?,
                options: Restorer.Options) {
        precondition(readers.count == tree.plans.count && parents.count == tree.plans.count)
        self.tree = tree
        self.restorers = tree.plans.indices.map { i in
            Restorer(plan: tree.plans[i], reader: readers[i], replayer: replayer, options: options, parent: parents[i])
        }
    }

    /// What a tree's restore made: each process's result in the order of `tree.plans`, and
    /// each zombie's new pid in the order of `tree.zombies`.
    public struct Made {
        public var processes: [Restorer.Result]
        public var zombies: [pid_t]
    }

    /// Restores the tree; `step` is told which process (its index in `tree.plans`) and what
    /// is being done, `progress` how far each memory write is.
    public func run(step: (Int, String) -> Void = { _, _ in },
                    progress: (UInt64, UInt64) -> Void = { _, _ in }) throws(RestoreError) -> Made {
        for plan in tree.plans { try Restorer.checkPermitted(plan) }
        var made: [String: Int32] = [:]
        defer { for fd in made.values { close(fd) } }
        for pipe in tree.pipes { made.merge(try TreeEnds.make(pipe)) { a, _ in a } }
        for pair in tree.sockets { made.merge(try TreeEnds.make(pair)) { a, _ in a } }
        // The restorer's own processes' files and those processes of several users share
        // (each the very file they held) the restorer opens; another user's, the root opens
        // with that user's rights (below).
        let opener = tree.filesOpener
        if opener == .identity, !tree.files.isEmpty {
            step(0, "opening \(tree.files.count) open file\(tree.files.count == 1 ? "" : "s") processes of several users share, "
                 + "each the very file they held")
        }
        if opener != .processesUser {
            for file in tree.files { made.merge(try TreeEnds.make(file, byIdentity: opener == .identity)) { a, _ in a } }
        }
        var restorers = self.restorers
        for i in restorers.indices { restorers[i].treeFDs = made }
        var processes: [Restorer.NewProcess] = []
        var finished = false
        defer { if !finished { for p in processes.reversed() { p.kill() } } }
        let placements = tree.placements
        var warnings = placements.map { $0.warning.map { [$0] } ?? [] }
        processes.append(try restorers[0].start { step(0, $0) })
        if opener == .processesUser, !tree.files.isEmpty {
            step(0, "opening \(tree.files.count) open file\(tree.files.count == 1 ? "" : "s") its tree shares, as uid \(tree.plans[0].task.euid)")
            let access = try ProcessFileAccess.begin(processes[0].remote, task: tree.plans[0].task)
            var opened: [String: Int32] = [:]
            for file in tree.files { opened.merge(try TreeEnds.open(file, in: processes[0].remote, access: access)) { a, _ in a } }
            for i in restorers.indices { restorers[i].treeFDs.merge(opened) { a, _ in a } }
        }
        for i in restorers.indices.dropFirst() {
            guard let parent = tree.parents[i] else { preconditionFailure("TreePlan: a second root") }
            step(i, "forked by pid \(processes[parent].pid)")
            processes.append(try restorers[i].fork(from: processes[parent]))
            // Before its children are forked: they are born in its session, as they were.
            if placements[i].newSession { try processes[i].remote.call("setsid", Int32(CKPT_SYS_SETSID)) }
        }
        // Groups once every process exists: the leaders first, then the zombies (forked and
        // placed: a group one led must exist for those joining it), then those joining.
        for i in restorers.indices where placements[i].group == .own {
            try processes[i].remote.call("setpgid(0, 0)", Int32(CKPT_SYS_SETPGID), 0, 0)
        }
        let zombiePlacements = tree.zombiePlacements
        var pending: [Int: Restorer.PendingZombie] = [:]
        defer { for p in pending.values { p.child.kill() } }
        // The pid whose group a placement joins (`zombieOrder` makes a zombie leader first).
        func leader(_ group: TreePlan.Placement.Group) -> pid_t? {
            switch group {
            case let .of(l): processes[l].pid
            case let .ofZombie(z): pending[z]?.child.pid
            case .inherited, .own: nil
            }
        }
        for z in tree.zombieOrder {
            let zombie = tree.zombies[z], parent = tree.zombieParents[z]
            step(parent, "making its child \(zombie.pid) again, a zombie (\(zombie.status))")
            pending[z] = try Restorer.forkZombie(zombie, placement: zombiePlacements[z], groupLeader: leader(zombiePlacements[z].group),
                                                 from: processes[parent], pids: restorers[parent].options.pids)
        }
        for i in restorers.indices {
            guard let leader = leader(placements[i].group) else { continue }
            if let w = try Restorer.joinGroup(of: leader, processes[i].remote, who: "pid \(tree.plans[i].task.tgid)") {
                warnings[i].append(w)
            }
        }
        // The zombies exit last: the groups they led are joined, and the fds they inherited
        // from the restorer are closed again by their exits.
        var zombies = [pid_t](repeating: 0, count: tree.zombies.count)
        for z in tree.zombieOrder {
            guard let p = pending.removeValue(forKey: z) else { continue }
            let made = try Restorer.finishZombie(p)
            zombies[z] = made.pid
            warnings[tree.zombieParents[z]] += made.warnings + (zombiePlacements[z].warning.map { [$0] } ?? [])
        }
        // Every process holds them now; the restorer's copies would keep a reader from
        // ever seeing the end of its pipe.
        for fd in made.values { close(fd) }
        made = [:]
        var built: [Restorer.Built] = []
        for i in restorers.indices {
            built.append(try restorers[i].build(processes[i], step: { step(i, $0) }, progress: progress))
        }
        var results: [Restorer.Result] = []
        for i in restorers.indices {
            var result = try restorers[i].release(processes[i], built[i])
            result.warnings += warnings[i]
            results.append(result)
        }
        finished = true
        return Made(processes: results, zombies: zombies)
    }
}

extension Restorer {
    /// The process `remote` drives (`who`, for the warning) joins the process group that
    /// `leader` is in now. A group in another session than its own (the images put them in
    /// one, but the group's leader did not get its own session back) is warned about, as
    /// for a group no process of the tree led: it stays in its parent's. Returns the
    /// warning, or nil.
    static func joinGroup(of leader: pid_t, _ remote: RemoteSyscalls, who: String) throws(RestoreError) -> String? {
        let group = getpgid(leader)
        guard group > 0 else { throw .system(call: "getpgid \(leader)", errno: Errno(rawValue: errno)) }
        do throws(RestoreError) {
            try remote.call("setpgid(0, \(group))", Int32(CKPT_SYS_SETPGID), 0, UInt64(group))
        } catch let .remote(_, errno) where errno == .notPermitted {
            return "\(who) could not join process group \(group) (another session): it is in its parent's"
        }
        return nil
    }
}
