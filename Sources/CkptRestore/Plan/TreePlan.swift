import CkptProtocol

/// The images of a process tree (`ckpt checkpoint --tree`), planned for one restore: which
/// process is whose parent (each image's pid and parent pid), the order they are made in
/// (a parent before its children, which it forks), their sessions and groups, and the
/// pipes, Unix sockets and open files between them. Refused here, before any process
/// exists: images that are not one tree, a shared pipe or socket with an end outside it.
public struct TreePlan: Sendable {
    /// Every process, the root first and each after its parent.
    public var plans: [RestorePlan]
    /// For each of `plans`, the index of its parent (nil for the root).
    public var parents: [Int?]
    /// For each of `plans`, its index in what `init` was given.
    public var order: [Int]
    /// The pipes more than one process holds, in the order of their names.
    public var pipes: [SharedPipe]
    /// The Unix socketpairs and connections between its processes.
    public var sockets: [SharedSocketPair]
    /// The open files several of its processes share.
    public var files: [SharedFile]
    /// Its zombies: processes that had exited and that their parents had not waited for
    /// (an image of ids and a status, `ckpt checkpoint --tree`), each made again by its
    /// parent's fork and exiting as it did, so that the parent's wait finds it.
    public var zombies: [Zombie]
    /// For each of `zombies`, the index of its parent in `plans`.
    public var zombieParents: [Int]

    /// A zombie's image: its ids and its wait status; nothing else was left of it.
    public struct Zombie: Equatable, Sendable {
        public var pid: UInt32
        public var ppid: UInt32
        public var pgid: UInt32?
        public var sid: UInt32?
        public var status: WaitStatus
        public init(pid: UInt32, ppid: UInt32, pgid: UInt32? = nil, sid: UInt32? = nil, status: WaitStatus) {
            (self.pid, self.ppid, self.pgid, self.sid, self.status) = (pid, ppid, pgid, sid, status)
        }
    }

    /// `plans` in any order (each planned with what `sharedPipeNames`, `sharedSocketInodes`
    /// and `sharedFileIDs` found), and the tree's zombies. A zombie's parent must be one of
    /// `plans` (a zombie has no children: they went to a reaper when it exited).
    public init(_ unordered: [RestorePlan], zombies: [Zombie] = []) throws(RestoreError) {
        guard !unordered.isEmpty else {
            throw .unsupported(what: "images", why: "they are all zombies': a zombie comes back only with the parent that has not waited for it")
        }
        let (order, parents) = try Self.shape(unordered.map { ($0.task.tgid, $0.task.ppid) })
        self.plans = order.map { unordered[$0] }
        self.order = order
        self.parents = parents
        self.pipes = try Self.sharedPipes(plans)
        self.sockets = try Self.sharedSockets(plans)
        self.files = Self.sharedFiles(plans)
        self.zombies = zombies
        var zombieParents: [Int] = []
        for z in zombies {
            guard z.status.isExit else {
                throw .image("pid \(z.pid): a zombie's status \(hex(UInt64(z.status.raw))) is no exit's")
            }
            guard let parent = plans.firstIndex(where: { $0.task.tgid == z.ppid }) else {
                throw .unsupported(what: "images", why: "pid \(z.pid) is a zombie whose parent \(z.ppid) is not among them: "
                                       + "a zombie comes back only with the parent that has not waited for it")
            }
            zombieParents.append(parent)
        }
        self.zombieParents = zombieParents
    }

    /// The tree that processes of these (pid, parent pid) make: the order to make them in
    /// (indices into `processes`, the root first, breadth first) and each one's parent (an
    /// index into that order). Refused: a pid twice, not exactly one process whose parent is
    /// not among them (the root), a process not under the root.
    public static func shape(_ processes: [(pid: UInt32, ppid: UInt32)]) throws(RestoreError) -> (order: [Int], parents: [Int?]) {
        var byPid: [UInt32: Int] = [:]
        for (i, p) in processes.enumerated() {
            if byPid[p.pid] != nil {
                throw .unsupported(what: "images", why: "two of them are of pid \(p.pid): a tree has each process once")
            }
            byPid[p.pid] = i
        }
        let roots = processes.indices.filter { byPid[processes[$0].ppid] == nil }
        guard roots.count == 1 else {
            let list = roots.map { "\(processes[$0].pid) (parent \(processes[$0].ppid))" }.joined(separator: ", ")
            throw .unsupported(what: "images",
                               why: "they are not one process tree: \(roots.isEmpty ? "no" : "\(roots.count)") processes whose parent is not among them"
                                   + (roots.isEmpty ? "" : ": \(list)") + "; restore each tree with its own command")
        }
        // Breadth first from the root: a parent before its children.
        var order = [roots[0]]
        var at = 0
        while at < order.count {
            let pid = processes[order[at]].pid
            order += processes.indices.filter { processes[$0].ppid == pid && !order.contains($0) }
            at += 1
        }
        guard order.count == processes.count else {
            let left = processes.indices.filter { !order.contains($0) }.map { String(processes[$0].pid) }
            throw .unsupported(what: "images", why: "pids \(left.joined(separator: " ")) are not descendants of \(processes[roots[0]].pid)")
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return (order, order.map { i in byPid[processes[i].ppid].flatMap { position[$0] } })
    }

    /// The names of pipes whose ends more than one image holds: what each image is planned
    /// with (`RestorePlan.init(sharedPipes:)`).
    public static func sharedPipeNames(_ perImage: [Set<String>]) -> Set<String> {
        var seen = Set<String>(), shared = Set<String>()
        for names in perImage {
            shared.formUnion(names.intersection(seen))
            seen.formUnion(names)
        }
        return shared
    }

    /// Each shared pipe once: a read end and a write end somewhere in the tree (else its
    /// other end is a process's outside it, refused as a single restore refuses it), one
    /// capacity, the bytes from a read end's image.
    static func sharedPipes(_ plans: [RestorePlan]) throws(RestoreError) -> [SharedPipe] {
        var pipes: [String: SharedPipe] = [:]
        var sides: [String: (reading: Bool, writing: Bool, first: String)] = [:]
        for plan in plans {
            for end in plan.sharedPipeEnds {
                let who = "pid \(plan.task.tgid) fd \(end.fd) (\(end.name))"
                if var p = pipes[end.name] {
                    guard p.size == end.size else {
                        throw .image("\(who): a capacity of \(end.size) bytes, another process's end of the same pipe says \(p.size)")
                    }
                    if p.data.isEmpty, !end.data.isEmpty { p.data = end.data }
                    if end.reading, sides[end.name]?.reading == false { p.readFlags = end.flags }
                    if !end.reading, sides[end.name]?.writing == false { p.writeFlags = end.flags }
                    pipes[end.name] = p
                } else {
                    pipes[end.name] = SharedPipe(name: end.name, size: end.size, data: end.data,
                                                 readFlags: end.reading ? end.flags : 0, writeFlags: end.reading ? 0 : end.flags)
                    sides[end.name] = (false, false, who)
                }
                sides[end.name]!.reading = sides[end.name]!.reading || end.reading
                sides[end.name]!.writing = sides[end.name]!.writing || !end.reading
            }
        }
        for (name, side) in sides.sorted(by: { $0.key < $1.key }) where !side.reading || !side.writing {
            throw .unsupported(what: side.first,
                               why: "its \(side.reading ? "write" : "read") end is held by a process outside the restored tree (\(name))")
        }
        return pipes.values.sorted { $0.name < $1.name }
    }

    /// Where a process of the tree goes after its fork, which leaves it in its parent's
    /// session and process group.
    public struct Placement: Equatable, Sendable {
        /// It led a session of its own: `setsid` (before its own children are forked, so they
        /// are born in that session, as they were).
        public var newSession = false
        public enum Group: Equatable, Sendable {
            /// Its parent's, from the fork.
            case inherited
            /// One it leads: `setpgid(0, 0)`.
            case own
            /// The group of the tree's process `index` (in `plans`; 0 is the root's group,
            /// whichever process led it): `setpgid(0, that group)`.
            case of(index: Int)
            /// The group the tree's zombie `index` (in `zombies`) led: joined while that
            /// zombie is made and not yet exited (a zombie keeps its group alive until it is
            /// reaped, but only a live leader can make it).
            case ofZombie(index: Int)
        }
        public var group = Group.inherited
        /// Said when the image's session or group cannot be had again.
        public var warning: String?
    }

    /// Each process's session and group, from the image's ids (`pgid`, `sid`): what it led
    /// it leads again, a group a process of the tree led (or the root's group) it joins
    /// again. Ids of processes outside the tree cannot be had; such a process stays in its
    /// parent's, with a warning (the root, like one process, gets a session of its own
    /// unless --shell-job). Images of older modules carry no ids: parents' groups.
    public var placements: [Placement] {
        plans.indices.map { i in
            guard let parent = parents[i] else { return Placement() }
            let task = plans[i].task
            return placement(task.tgid, pgid: task.pgid, sid: task.sid, parent: parent)
        }
    }

    /// The same for each of `zombies` (a zombie keeps the session and group it exited in).
    /// `TreeRestorer` makes them in `zombieOrder`, so a zombie that leads a group exists
    /// before any zombie joins it.
    public var zombiePlacements: [Placement] {
        zombies.indices.map { placement(zombies[$0].pid, pgid: zombies[$0].pgid, sid: zombies[$0].sid, parent: zombieParents[$0]) }
    }

    /// The order zombies are made in: those leading their own group (or none) first.
    public var zombieOrder: [Int] {
        let placements = zombiePlacements
        let joining = zombies.indices.filter { if case .ofZombie = placements[$0].group { true } else { false } }
        return zombies.indices.filter { !joining.contains($0) } + joining
    }

    /// Where process `pid` (of those ids, forked by `plans[parent]`) goes.
    func placement(_ pid: UInt32, pgid: UInt32?, sid: UInt32?, parent: Int) -> Placement {
        var p = Placement()
        guard let pgid, let sid else { return p }
        let root = plans[0].task
        let was = "pid \(pid)"
        if sid == pid {
            p.newSession = true
            return p
        }
        if sid != plans[parent].task.sid {
            p.warning = "\(was) was in session \(sid), not its parent's: it is in its parent's session now"
        }
        if pgid == pid {
            p.group = .own
        } else if let leader = plans.firstIndex(where: { $0.task.tgid == pgid }) {
            p.group = .of(index: leader)
        } else if let leader = zombies.firstIndex(where: { $0.pid == pgid && $0.pgid == pgid }) {
            p.group = .ofZombie(index: leader)
        } else if pgid == root.pgid {
            p.group = .of(index: 0)
        } else if pgid != plans[parent].task.pgid {
            p.warning = p.warning ?? "\(was) was in process group \(pgid), which no process of the tree led: it is in its parent's group now"
        }
        return p
    }
}
