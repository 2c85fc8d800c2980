#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptImage
import CkptProtocol
import SystemPackage

/// Everything `ckpt restore` needs from an image, read and checked before any process is
/// created: the mappings in address order with their kinds, each thread's registers and
/// state, the address-space fields, the descriptors and the credentials. What the restorer
/// cannot bring back is refused here, naming the thread, fd or mapping.
public struct RestorePlan: Sendable {
    public struct Mapping: Equatable, Sendable {
        public var meta: VMAMeta
        public var kind: VMAKind
        /// The image holds pages of it.
        public var hasPages = false
        public var length: UInt64 { meta.end - meta.start }
    }

    /// How an fd comes back.
    public enum Descriptor: Equatable, Sendable {
        /// A file or directory reopened by path with its flags, at its position; `identity`
        /// is the file it was (absent in older images), which decides whose rights may open
        /// it for another user's process (`ProcessFileAccess`).
        case path(fd: Int32, path: String, flags: Int32, position: UInt64, identity: FileIdentity?)
        /// A terminal: the restorer's own terminal takes its place (`--shell-job`).
        case terminal(fd: Int32, path: String)
        /// One end of a pipe whose both ends the process holds (`pipes` has it).
        case pipe(fd: Int32, name: String)
        /// An fd of a named FIFO, opened again at its path (`namedFIFOs` has it).
        case fifo(fd: Int32, path: String)
        /// One end of a pipe another process of the restored tree also holds
        /// (`sharedPipeEnds` has it): the restorer makes the pipe and every process of the
        /// tree inherits it (`TreeRestorer`).
        case sharedPipe(fd: Int32, name: String)
        /// One end of a Unix socketpair or connection whose other end (or this end too)
        /// another process of the restored tree holds (`sharedSocketEnds` has it): made by
        /// the restorer like a tree's pipes.
        case sharedSocket(fd: Int32, name: String)
        /// A file another process of the restored tree holds through the same open file
        /// (one offset: inherited across fork), opened once by the restorer
        /// (`sharedFileEnds` has it).
        case sharedFile(fd: Int32, path: String)
        /// Whatever the image had, the restorer's own fd of that number takes its place
        /// (`--inherit-fd`): the new process inherits it.
        case inherited(fd: Int32)
        /// A Unix socket: one end of a socketpair (`socketPairs` has it) or a named one
        /// (`namedUnixSockets`).
        case socket(fd: Int32, name: String)
        /// A TCP or UDP socket (`inetSockets` has it).
        case inet(fd: Int32, name: String)
        /// An unnamed shared memory object the process also maps (a memfd): opened again
        /// from the memfd the mappings were made from, with its flags, at its position.
        case sharedMemory(fd: Int32, object: VMAKind.SharedObject, flags: Int32, position: UInt64)
        /// An inotify instance: made again with its watches, each on the path of a file the
        /// image holds open or maps (the fdinfo record names watched inodes, not paths).
        case inotify(fd: Int32, flags: Int32, watches: [InotifyWatch])
        /// An eventfd, signalfd or timerfd: made again from its fdinfo record.
        case event(fd: Int32, flags: Int32, EventDescriptor)
        /// An epoll instance and what it watches: made again after every other fd, each
        /// target the file at its fd number (checked by identity when planned).
        case epoll(fd: Int32, flags: Int32, targets: [EventDescriptor.EpollTarget])

        public var fd: Int32 {
            switch self {
            case let .path(fd, _, _, _, _), let .terminal(fd, _), let .pipe(fd, _), let .fifo(fd, _), let .sharedPipe(fd, _), let .sharedSocket(fd, _), let .sharedFile(fd, _), let .inherited(fd), let .socket(fd, _), let .inet(fd, _), let .sharedMemory(fd, _, _, _),
                 let .inotify(fd, _, _), let .event(fd, _, _), let .epoll(fd, _, _): fd
            }
        }
    }

    /// A pipe between the process's own fds, made anew and given back what it held.
    public struct Pipe: Equatable, Sendable {
        /// As /proc/PID/fd shows it: "pipe:[INODE]".
        public var name: String
        /// Capacity (F_SETPIPE_SZ).
        public var size: UInt32
        /// The bytes it held, oldest first.
        public var data: [UInt8]
        /// Its read ends and write ends (fd numbers), and the status flags of each side.
        public var readers: [Int32]
        public var writers: [Int32]
        public var readFlags: Int32
        public var writeFlags: Int32
    }

    public var header: HeaderMeta
    public var task: TaskMeta
    public var mm: MMMeta
    public var mappings: [Mapping]
    /// Every thread, the thread-group leader first (the order the kernel emits them).
    public var threads: [ThreadPlan]
    /// The leader's `struct user_regs_struct`.
    public var registers: [UInt64] { threads[0].registers }
    public var descriptors: [Descriptor]
    /// The pipes among the descriptors.
    public var pipes: [Pipe]
    /// The ends of pipes other processes of the restored tree hold too (`sharedPipes`).
    public var sharedPipeEnds: [SharedPipeEnd]
    /// The Unix sockets whose pair spans processes of the restored tree (`sharedSockets`).
    public var sharedSocketEnds: [SharedSocketEnd]
    /// The fds of open files other processes of the restored tree share (`sharedFiles`).
    public var sharedFileEnds: [SharedFileEnd]
    /// Fds reopened by path that are one open file with an earlier fd of the process (`2>&1`:
    /// one offset; the file records' `fileID`), each to the earlier fd: `dup2`'d from it,
    /// not opened again. Images of older modules have none (each fd is opened).
    public var sameOpenFile: [Int32: Int32]
    /// The named FIFOs among the descriptors.
    public var namedFIFOs: [NamedFIFO]
    /// The Unix socketpairs among the descriptors.
    public var socketPairs: [SocketPair]
    /// The named Unix sockets (listeners, bound sockets) among the descriptors.
    public var namedUnixSockets: [NamedUnixSocket]
    /// The TCP and UDP sockets among the descriptors.
    public var inetSockets: [InetSocket]
    /// The root directory the process was chrooted to (nil: the restorer's own, "/").
    public var changedRoot: String? { task.root.flatMap { $0 == "/" ? nil : $0 } }
    /// The executable: the file mapping that holds `start_code`, for `/proc/PID/exe`.
    public var executable: String?
    /// Every signal's disposition, signal i + 1 at index i (`nil`: an image of an older
    /// module, which did not record them).
    public var signalActions: [SignalAction]?
    /// Signals pending for the whole process, bit i for signal i + 1 (`nil`: not in the image).
    public var sharedPending: UInt64?
    /// The process's queued signals with their siginfo (`nil`: not in the image, or none).
    public var sharedQueue: SignalQueue?
    /// Every resource limit, resource i at index i (`nil`: an image of an older module).
    public var resourceLimits: [ResourceLimit]?

    /// Reads `reader`'s records by its index (not the pages records) and applies the
    /// restorer's rules.
    /// `shellJob`: terminals may be replaced by the restorer's own. `tcpClose`: TCP
    /// connections come back closed instead of being refused (`InetSocket`). `unixClose`:
    /// Unix connections to another process come back with their peer closed (`SocketPair`).
    /// `inheritedFDs`: fds the restorer's own of the same number replace, whatever the image
    /// had there (nothing of theirs is planned or refused); each must be an fd of the image.
    /// `sharedPipes`: names (`pipe:[INODE]`) of pipes other images of a restored process tree
    /// hold ends of (`TreePlan`); their ends are `sharedPipeEnds`, not refused here.
    /// `sharedSockets`: inodes of Unix sockets whose pair spans images of the tree; they are
    /// `sharedSocketEnds`. `sharedFiles`: ids (`FileMeta.fileID`) of open files several
    /// images hold; the fds reopened by path that name them are `sharedFileEnds`.
    public init(_ reader: ImageReader, shellJob: Bool, tcpClose: Bool = false, unixClose: Bool = false,
                inheritedFDs: Set<Int32> = [], sharedPipes: Set<String> = [],
                sharedSockets: Set<UInt64> = [], sharedFiles: Set<UInt64> = []) throws(RestoreError) {
        var header: HeaderMeta?, task: TaskMeta?, mm: MMMeta?
        var mappings: [Mapping] = []
        var threads: [ThreadPlan] = []
        var regsRecord: [UInt32: Int] = [:]  // regs record id -> index in threads
        var vmaRecord: [UInt32: Int] = [:]  // vma record id -> index in mappings
        var vmaHasPages = Set<UInt32>()  // vma record ids with pages records
        var files: [(id: UInt32, meta: FileMeta)] = []
        var pipeRecords: [UInt32: (meta: PipeMeta, data: [UInt8])] = [:]  // by file record id
        var fdinfoRecords: [UInt32: String] = [:]  // by file record id
        var unixRecords: [UInt32: (meta: UnixMeta, data: [UInt8])] = [:]  // by file record id
        var inetRecords: [UInt32: InetMeta] = [:]  // by file record id
        var actions: [SignalAction]?
        var sharedPending: UInt64?
        var sharedQueue: SignalQueue?
        var limits: [ResourceLimit]?
        // The shapes the listener held the kernel's stream to, held again here: an image file
        // may come from anyone, and the data read below is decoded by them (registers,
        // tables, pipe bytes, fdinfo text, vma ranges). Pages records are the memory
        // write's to check (the kernel's restart, or ProcessMemoryWriter's `PagesRules`),
        // which reads them anyway: the plan stays a walk over the index and a few KiB.
        var rules = RecordDataRules()
        // By the index, skipping pages records: the plan reads a few KiB, not the image.
        // Each record's checksum is checked when the restore streams it (or by --verify).
        func allData(_ entry: ImageIndexEntry) throws(RestoreError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Int(entry.dataLength))
            var n = 0
            var failure: ImageError?
            bytes.withUnsafeMutableBytes { buf in
                do throws(ImageError) { n = try reader.readData(of: entry, offset: 0, into: buf) } catch { failure = error }
            }
            if let failure { throw .image("\(failure)") }
            guard n == bytes.count else { throw .image("record \(entry.id): \(n) of \(bytes.count) data bytes") }
            return bytes
        }
        for entry in reader.index where entry.type == .pages || entry.type == .parentPages {
            vmaHasPages.insert(entry.parent)
        }
        for entry in reader.index where entry.type != .pages && entry.type != .parentPages {
            let meta = try Self.meta(of: entry, in: reader)
            do throws(RecordDataViolation) { try rules.check(id: entry.id, meta: meta, dataLength: entry.dataLength) } catch {
                throw .image("\(error)")
            }
            try Self.checkBounds(meta, record: entry.id, pageSize: rules.pageSize)
            switch meta {
            case let .header(h): header = h
            case let .task(t): task = t
            case let .mm(m): mm = m
            case let .vma(v):
                vmaRecord[entry.id] = mappings.count
                mappings.append(Mapping(meta: v, kind: VMAKind(v), hasPages: vmaHasPages.contains(entry.id)))
            case let .shmem(s):
                guard let i = vmaRecord[entry.parent], mappings[i].kind == .shared else {
                    throw .image("record \(entry.id): shmem record of no unnamed shared mapping")
                }
                let device = mappings[i].meta.identity?.device ?? 0
                mappings[i].kind = .sharedMemory(.init(device: device, inode: s.inode, size: s.size, seals: s.seals))
            case let .regs(r):
                let bytes = try allData(entry)
                guard bytes.count == Self.registerWords * 8 else {
                    throw .image("record \(entry.id): registers of \(bytes.count) bytes, expected \(Self.registerWords * 8)")
                }
                var words = [UInt64](repeating: 0, count: Self.registerWords)
                for i in 0..<Self.registerWords {
                    for b in 0..<8 { words[i] |= UInt64(bytes[i * 8 + b]) << UInt64(8 * b) }
                }
                regsRecord[entry.id] = threads.count
                threads.append(ThreadPlan(meta: r, registers: words))
            case let .file(f): files.append((entry.id, f))
            case let .pipe(p): pipeRecords[entry.parent] = (p, try allData(entry))
            case .fdinfo: fdinfoRecords[entry.parent] = String(decoding: try allData(entry), as: UTF8.self)
            case let .unix(u): unixRecords[entry.parent] = (u, try allData(entry))
            case let .inet(i): inetRecords[entry.parent] = i
            case let .sigactions(s):
                guard let table = SignalAction.table(try allData(entry)) else {
                    throw .image("record \(entry.id): sigactions data of \(entry.dataLength) bytes")
                }
                actions = table
                sharedPending = s.sharedPending
            case .rlimits:
                guard let table = ResourceLimit.table(try allData(entry)) else {
                    throw .image("record \(entry.id): rlimits data of \(entry.dataLength) bytes")
                }
                limits = table
            case let .xstate(x):
                guard let i = regsRecord[entry.parent] else { throw .image("record \(entry.id): xstate of no regs record") }
                threads[i].xstate = XState(xfeatures: x.xfeatures, area: try allData(entry))
            case let .siginfo(m):
                guard let i = regsRecord[entry.parent] else { throw .image("record \(entry.id): siginfo of no regs record") }
                threads[i].queue = try SignalQueue(m, allData(entry), record: entry.id)
            case let .sharedSiginfo(m):
                sharedQueue = try SignalQueue(m, allData(entry), record: entry.id)
            case .pages, .parentPages, .trailer: break
            }
        }
        if let status = task?.exitStatus, let task {
            throw .unsupported(what: "image", why: "pid \(task.tgid) was a zombie (\(WaitStatus(status))): it comes back only with "
                               + "its parent, which had not waited for it (restore the images of its tree together)")
        }
        guard let header, let task, let mm else { throw .image("no header, task or mm record: not a process image") }
        if header.isPreCopy {
            throw .unsupported(what: "image", why: "a pre-copy holds memory only, read while the process ran: restore the "
                               + "checkpoint taken after it (the image whose header names it as its parent)")
        }
        guard header.arch == "x86_64" else {
            throw .unsupported(what: "image", why: "taken on \(header.arch); this restorer restores x86_64 images")
        }
        // The restorer maps and writes in this machine's pages (as the kernel's restart
        // requires): alignments checked in another size would mean nothing.
        let pageSize = UInt32(truncatingIfNeeded: sysconf(Int32(_SC_PAGESIZE)))
        guard header.pageSize == pageSize else {
            throw .unsupported(what: "image", why: "its page size is \(header.pageSize) bytes, this machine's \(pageSize)")
        }
        guard !threads.isEmpty else { throw .image("no registers record") }
        for t in threads where !t.resumable {
            throw .image("thread \(t.tid): stopped in a system call to run again (-ERESTART_RESTARTBLOCK) at rip "
                         + "\(hex(t.registers[Self.instructionPointerWord])), below the 2-byte syscall instruction")
        }
        for m in mappings {
            if case let .file(path) = m.kind {
                if let recorded = m.meta.identity {
                    try Self.checkUnchanged(path, recorded, what: "mapping \(Self.describe(m))")
                } else {
                    try Self.checkNotFIFO(path, what: "mapping \(Self.describe(m))")
                }
            }
            if m.kind == .shared {
                throw .unsupported(what: "mapping \(Self.describe(m))",
                                   why: "the image holds no pages of this shared memory (a device's, a deleted file's not on tmpfs, "
                                       + "hugetlbfs shm, or any unnamed shared memory in an image of an older module)")
            }
            if case .sharedMemory = m.kind {
                try Self.checkSharedMemory(m)
            }
            if case let .sharedFile(path) = m.kind {
                try Self.checkSameFile(path, m.meta.identity, what: "mapping \(Self.describe(m))")
            }
            if case let .file(path) = m.kind, path.hasSuffix(" (deleted)") {
                throw .unsupported(what: "mapping \(Self.describe(m))", why: "its file was deleted")
            }
        }
        self.header = header
        self.task = task
        self.mm = mm
        self.mappings = mappings
        self.threads = threads
        self.signalActions = actions
        self.sharedPending = sharedPending
        self.sharedQueue = sharedQueue
        self.resourceLimits = limits
        for (what, dir) in [("working directory", task.cwd), ("root directory", task.root)] {
            guard let dir else { continue }
            var st = stat()
            if dir.hasSuffix(" (deleted)") || stat(dir, &st) != 0 || st.st_mode & S_IFMT != S_IFDIR {
                throw .unsupported(what: "\(what) \(dir)", why: "it is gone or not a directory")
            }
        }
        var objects: [FileID: VMAKind.SharedObject] = [:]
        for m in mappings {
            if case let .sharedMemory(o) = m.kind { objects[FileID(device: o.device, inode: o.inode)] = o }
        }
        // Paths by file identity, for inotify watches: the image's open files and mappings.
        var paths: [FileID: String] = [:]
        for (identity, path) in mappings.map({ ($0.meta.identity, $0.meta.path) }) + files.map({ ($0.meta.identity, $0.meta.path) }) {
            if let id = identity, let path, path.hasPrefix("/"), !path.hasSuffix(" (deleted)") {
                paths[FileID(device: id.device, inode: id.inode)] = path
            }
        }
        let imageFDs = Set(files.map { Int32($0.meta.fd) })
        for fd in inheritedFDs.sorted() where !imageFDs.contains(fd) {
            throw .unsupported(what: "--inherit-fd \(fd)",
                               why: "the image has no fd \(fd) (its fds: \(imageFDs.sorted().map(String.init).joined(separator: " ")))")
        }
        var sharedFileEnds: [SharedFileEnd] = []
        self.descriptors = try files.map { f throws(RestoreError) in
            if inheritedFDs.contains(Int32(f.meta.fd)) { return .inherited(fd: Int32(f.meta.fd)) }
            if f.meta.path == "anon_inode:inotify" {
                return try Self.inotify(f.meta, fdinfo: fdinfoRecords[f.id], paths: paths)
            }
            if let path = f.meta.path, EventDescriptor.names.contains(path) {
                return try Self.event(f.meta, path: path, fdinfo: fdinfoRecords[f.id])
            }
            if f.meta.path == "anon_inode:[eventpoll]" {
                return try Self.epoll(f.meta, fdinfo: fdinfoRecords[f.id], files: files.map(\.meta))
            }
            if unixRecords[f.id] != nil, let path = f.meta.path {
                if let inode = f.meta.identity?.inode, sharedSockets.contains(inode) {
                    return .sharedSocket(fd: Int32(f.meta.fd), name: path)
                }
                return .socket(fd: Int32(f.meta.fd), name: path)
            }
            if inetRecords[f.id] != nil, let path = f.meta.path {
                return .inet(fd: Int32(f.meta.fd), name: path)
            }
            if pipeRecords[f.id] != nil, let path = f.meta.path, sharedPipes.contains(path) {
                return .sharedPipe(fd: Int32(f.meta.fd), name: path)
            }
            let d = try Self.descriptor(f.meta, pipe: pipeRecords[f.id]?.meta, shellJob: shellJob, objects: objects)
            if case let .path(fd, path, flags, position, identity) = d, let id = f.meta.fileID, sharedFiles.contains(id) {
                sharedFileEnds.append(SharedFileEnd(fd: fd, path: path, flags: flags, position: position, identity: identity, fileID: id))
                return .sharedFile(fd: fd, path: path)
            }
            return d
        }
        self.sharedFileEnds = sharedFileEnds
        var firstOf: [UInt64: Int32] = [:], same: [Int32: Int32] = [:]
        for (f, d) in zip(files, descriptors) {
            guard case let .path(fd, _, _, _, _) = d, let id = f.meta.fileID else { continue }
            if let first = firstOf[id] { same[fd] = first } else { firstOf[id] = fd }
        }
        self.sameOpenFile = same
        // An inherited fd is not what the image had: it joins no pipe or socket.
        let grouped = files.filter { !inheritedFDs.contains(Int32($0.meta.fd)) }
        let pipeFiles = grouped.compactMap { f in pipeRecords[f.id].map { (f.meta, $0) } }
        let shared = pipeFiles.filter { $0.0.path.map(sharedPipes.contains) ?? false }
        self.pipes = try Self.pipes(pipeFiles.filter { !($0.0.path.map(sharedPipes.contains) ?? false) })
        self.sharedPipeEnds = try shared.map { f, record throws(RestoreError) in try SharedPipeEnd(f, record) }
        self.namedFIFOs = try NamedFIFO.fifos(pipeFiles)
        let allUnix = grouped.compactMap { f in
            unixRecords[f.id].map { SocketPair.Record(file: f.meta, meta: $0.meta, data: $0.data) }
        }
        func spansTree(_ r: SocketPair.Record) -> Bool { r.file.identity.map { sharedSockets.contains($0.inode) } ?? false }
        self.sharedSocketEnds = try allUnix.filter(spansTree).map { r throws(RestoreError) in try SharedSocketEnd(r) }
        let unixSockets = allUnix.filter { !spansTree($0) }
        // Sockets made by name: listeners, bound sockets, and datagram sockets connected to a
        // named socket no pair end of the process is (another process's, or its own bound one).
        let pairInodes = Set(unixSockets.filter { !NamedUnixSocket.isNamed($0.meta) }.compactMap { $0.file.identity?.inode })
        func byName(_ r: SocketPair.Record) -> Bool {
            NamedUnixSocket.isNamed(r.meta) || NamedUnixSocket.isReconnect(r.meta, held: pairInodes)
        }
        self.socketPairs = try SocketPair.pairs(unixSockets.filter { !byName($0) }, unixClose: unixClose)
        self.namedUnixSockets = try NamedUnixSocket.sockets(unixSockets.filter(byName), held: pairInodes)
        self.inetSockets = try InetSocket.sockets(grouped.compactMap { f in inetRecords[f.id].map { (f.meta, $0) } },
                                                  tcpClose: tcpClose)
        self.executable = mappings.first { m in
            if case .file = m.kind { return m.meta.start <= mm.startCode && mm.startCode < m.meta.end }
            return false
        }?.meta.path
    }

    /// A record's meta, decoded (by the index: its data is not read).
    static func meta(of entry: ImageIndexEntry, in reader: ImageReader) throws(RestoreError) -> RecordMeta {
        let metaBytes: [UInt8]
        do throws(ImageError) { metaBytes = try reader.meta(of: entry) } catch { throw .image("\(error)") }
        var decoded: Result<RecordMeta, ProtocolError>?
        metaBytes.withUnsafeBytes { payload in
            do throws(ProtocolError) { decoded = .success(try RecordMeta(type: entry.type, payload: payload)) } catch {
                decoded = .failure(error)
            }
        }
        switch decoded {
        case let .success(meta)?: return meta
        case let .failure(error)?: throw .image("record \(entry.id): \(error)")
        case nil: throw .image("record \(entry.id): meta not decoded")
        }
    }

    /// 27 words: `struct user_regs_struct` of x86-64 (arch/x86/include/asm/user_64.h).
    public static let registerWords = 27
    /// `rip`'s word in it.
    static let instructionPointerWord = 16

    /// An image of another kernel release is restored with this kernel's vDSO, placed at
    /// the image's address when its layout is the same (`compareMappings` refuses another
    /// size). Its code is another build, so a thread that was executing in it is refused;
    /// return addresses into it on a stack cannot be found, and are the warning's reason.
    /// (CRIU instead keeps the old vDSO's entry points and patches them to jump to the
    /// new one.) Returns the warning to print, or nil for the image's own release.
    public func checkKernel(release now: String) throws(RestoreError) -> String? {
        guard now != header.release else { return nil }
        if let vdso = mappings.first(where: { $0.kind == .vdso }) {
            for t in threads where t.registers.count > Self.instructionPointerWord {
                let rip = t.registers[Self.instructionPointerWord]
                guard vdso.meta.start <= rip, rip < vdso.meta.end else { continue }
                throw .unsupported(what: "thread \(t.tid)",
                                   why: "it was executing in the vDSO (\(hex(rip))) of kernel \(header.release), whose code is not this kernel's (\(now))")
            }
        }
        return "the image was taken on kernel \(header.release), this is \(now): the process gets this kernel's vDSO "
            + "(same layout); a call into the vDSO in progress at the checkpoint would return into other code"
    }

    /// Unnamed shared memory comes back as a memfd mapped at the vma's offset, with the
    /// image's pages written by the kernel through the mapping, so: not a SysV segment (its
    /// new id would not be the one the process knows), and writable where the image holds
    /// pages (a restart writes a shared mapping only where the process may).
    static func checkSharedMemory(_ m: Mapping) throws(RestoreError) {
        if let path = m.meta.path, path.hasPrefix("/SYSV") {
            throw .unsupported(what: "mapping \(describe(m))",
                               why: "a SysV shared memory segment: a new segment would have another id than the one the process uses")
        }
        if m.hasPages, m.meta.vmFlags & VMFlags.write == 0 {
            throw .unsupported(what: "mapping \(describe(m))",
                               why: "read-only shared memory with pages in the image: the kernel writes shared memory only through a writable mapping")
        }
    }

    /// The memfd name for an unnamed shared memory object: a memfd's own, else "ckpt-shmem".
    static func memfdName(_ path: String?) -> String {
        let prefix = "/memfd:", suffix = " (deleted)"
        guard let path, path.hasPrefix(prefix), path.hasSuffix(suffix) else { return "ckpt-shmem" }
        return String(path.dropFirst(prefix.count).dropLast(suffix.count))
    }

    static func describe(_ m: Mapping) -> String {
        "\(hex(m.meta.start))-\(hex(m.meta.end))" + (m.meta.path.map { " (\($0))" } ?? "")
    }

    /// A file as the image identifies it: stat(2)'s device and inode.
    struct FileID: Hashable { var device: UInt32, inode: UInt64 }

    static func descriptor(_ f: FileMeta, pipe: PipeMeta? = nil, shellJob: Bool,
                           objects: [FileID: VMAKind.SharedObject] = [:]) throws(RestoreError) -> Descriptor {
        let what = "fd \(f.fd)" + (f.path.map { " (\($0))" } ?? "")
        if let id = f.identity, let o = objects[FileID(device: id.device, inode: id.inode)],
           f.path?.hasSuffix(" (deleted)") == true {
            return .sharedMemory(fd: Int32(f.fd), object: o, flags: Int32(bitPattern: f.fFlags), position: f.pos)
        }
        if let path = f.path, path.hasPrefix("/memfd:") {
            throw .unsupported(what: what, why: "a memfd the process does not map: the image holds no pages of it")
        }
        if pipe != nil, let path = f.path {
            if NamedFIFO.isFIFOPath(path) { return try NamedFIFO.descriptor(f, path: path) }
            return .pipe(fd: Int32(f.fd), name: path)
        }
        if let path = f.path, path.hasPrefix("pipe:[") {
            throw .unsupported(what: what, why: "the image does not record what this pipe held (an older module took it)")
        }
        guard let path = f.path, path.hasPrefix("/") else {
            let kind = f.path.map { p in p.split(separator: ":").first.map(String.init) ?? p } ?? "an unnamed file"
            let which = kind == "socket" ? "sockets other than Unix, TCP and UDP are" : "\(kind) descriptors are"
            let older = kind == "socket" ? "; an image of an older module records no socket's kind, and any socket in it is refused" : ""
            throw .unsupported(what: what, why: "\(which) not restored yet (restored: files, directories, terminals, pipes, Unix socketpairs and named Unix sockets, TCP listeners, UDP sockets, memfds, inotify, eventfd, signalfd, timerfd, epoll)\(older)")
        }
        if path.hasSuffix(" (deleted)") { throw .unsupported(what: what, why: "its file was deleted") }
        try checkNotFIFO(path, what: what)
        if isTerminal(path) {
            guard shellJob else {
                throw .unsupported(what: what, why: "a terminal: pass --shell-job to give the process this terminal instead (or --inherit-fd \(f.fd) for this fd alone)")
            }
            return .terminal(fd: Int32(f.fd), path: path)
        }
        return .path(fd: Int32(f.fd), path: path, flags: Int32(bitPattern: f.fFlags), position: f.pos, identity: f.identity)
    }

    /// An inotify descriptor from its fdinfo record: each watch on the path of an open file
    /// or mapping of the image with the watched inode and device; refused when the record
    /// is missing (an older module, or text over `CKPT_FDINFO_MAX`) or a watched file has
    /// no path in the image. Events queued and unread at the checkpoint are not recorded.
    static func inotify(_ f: FileMeta, fdinfo: String?, paths: [FileID: String]) throws(RestoreError) -> Descriptor {
        let what = "fd \(f.fd) (anon_inode:inotify)"
        guard let fdinfo else {
            throw .unsupported(what: what, why: "the image does not record its watches (no fdinfo record: an older module, or more than \(CKPT_FDINFO_MAX) bytes of them)")
        }
        guard var watches = InotifyWatch.parse(fdinfo) else {
            throw .image("\(what): an fdinfo inotify line whose wd, ino, sdev or mask is missing or out of range "
                         + "(wd 1 ... INT_MAX, mask 32 bits): \(fdinfo)")
        }
        for i in watches.indices {
            let w = watches[i]
            guard let path = paths[FileID(device: w.device, inode: w.inode)] else {
                throw .unsupported(what: what, why: "watch \(w.wd) is on inode \(w.inode) (device \(hex(UInt64(w.device)))), "
                                       + "which the process neither holds open nor maps, so its path is not in the image")
            }
            watches[i].path = path
        }
        watches.sort { $0.wd < $1.wd }
        for (a, b) in zip(watches, watches.dropFirst()) where a.wd == b.wd {
            throw .image("\(what): two watches numbered \(a.wd)")
        }
        // inotify numbers watches upwards from 1 (idr_alloc_cyclic, fs/notify/inotify/
        // inotify_user.c), and the restorer can only ask for the next number: reaching the
        // highest takes one watch added and removed (two calls in the new process) for each
        // free number below it, which a crafted number makes 2^31.
        if let last = watches.last {
            let cycles = UInt64(last.wd) - UInt64(watches.count), limit = inotifyCycleLimit()
            if cycles > limit {
                throw .unsupported(what: what, why: "watch \(last.wd) would need \(cycles) watches added and removed to reach its number, "
                                       + "more than the watches a user may hold (fs.inotify.max_user_watches, \(limit))")
            }
        }
        return .inotify(fd: Int32(f.fd), flags: Int32(bitPattern: f.fFlags), watches: watches)
    }

    /// An eventfd, signalfd or timerfd from its fdinfo record; refused without one (an older
    /// module) or when the text lacks what the descriptor needs.
    static func event(_ f: FileMeta, path: String, fdinfo: String?) throws(RestoreError) -> Descriptor {
        let what = "fd \(f.fd) (\(path))"
        guard let fdinfo else {
            throw .unsupported(what: what, why: "the image does not record its state (no fdinfo record: an older module)")
        }
        switch EventDescriptor.parse(path: path, fdinfo: fdinfo) {
        case let .success(e): return .event(fd: Int32(f.fd), flags: Int32(bitPattern: f.fFlags), e)
        case let .failure(.missing(field)): throw .unsupported(what: what, why: "its fdinfo record lacks \(field)")
        case let .failure(.unsupported(why)): throw .unsupported(what: what, why: why)
        }
    }

    /// An epoll instance from its fdinfo record: each target must be the file the image
    /// holds at that fd number (same inode and device), which the restorer makes or opens
    /// before it; a target that is itself an epoll instance, or whose file the process holds
    /// only under another number, is refused.
    static func epoll(_ f: FileMeta, fdinfo: String?, files: [FileMeta]) throws(RestoreError) -> Descriptor {
        let what = "fd \(f.fd) (anon_inode:[eventpoll])"
        guard let fdinfo else {
            throw .unsupported(what: what, why: "the image does not record what it watches (no fdinfo record: an older module, or more than \(CKPT_FDINFO_MAX) bytes of targets)")
        }
        guard let targets = EventDescriptor.epollTargets(fdinfo) else { throw .image("\(what): an fdinfo tfd line without its fields: \(fdinfo)") }
        for t in targets {
            guard let file = files.first(where: { Int32($0.fd) == t.fd }), let id = file.identity,
                  id.inode == t.inode, id.device == t.device else {
                throw .unsupported(what: what, why: "it watches fd \(t.fd), which is not the file the process holds at that number (closed or replaced since it was added)")
            }
            if file.path == "anon_inode:[eventpoll]" {
                throw .unsupported(what: what, why: "it watches fd \(t.fd), another epoll instance: nested epoll is not restored")
            }
        }
        return .epoll(fd: Int32(f.fd), flags: Int32(bitPattern: f.fFlags), targets: targets)
    }

    /// What one pipe end's record must hold to be restored, whether the pipe is the
    /// process's own or shared with other processes of a tree: a read end's bytes (the
    /// kernel leaves them out above `CKPT_PIPE_DATA_MAX`). That they fit the pipe is the
    /// image reader's bound (data-len is pipe-bytes, at most the capacity).
    static func checkPipeRecord(_ file: FileMeta, _ record: (meta: PipeMeta, data: [UInt8])) throws(RestoreError) {
        if record.meta.bytes > 0, record.data.isEmpty, Int32(bitPattern: file.fFlags) & O_ACCMODE == O_RDONLY {
            throw .unsupported(what: "fd \(file.fd) (\(file.path ?? ""))",
                               why: "it held \(record.meta.bytes) bytes, which the image does not carry (more than \(CKPT_PIPE_DATA_MAX))")
        }
    }

    /// The pipes, grouped by name: each must have a read end and a write end in the
    /// process, and what it held must be in the image.
    static func pipes(_ records: [(file: FileMeta, pipe: (meta: PipeMeta, data: [UInt8]))]) throws(RestoreError) -> [Pipe] {
        var out: [Pipe] = []
        for (file, record) in records {
            guard let name = file.path, name.hasPrefix("pipe:[") else { continue }
            try checkPipeRecord(file, record)
            let side = Int32(bitPattern: file.fFlags) & O_ACCMODE
            let i: Int
            if let found = out.firstIndex(where: { $0.name == name }) {
                i = found
                // Every end reads the one pipe's F_GETPIPE_SZ: the restorer sizes it once.
                guard out[i].size == record.meta.size else {
                    throw .image("fd \(file.fd) (\(name)): a capacity of \(record.meta.size) bytes, "
                                 + "another fd of the same pipe says \(out[i].size)")
                }
            } else {
                out.append(Pipe(name: name, size: record.meta.size, data: [], readers: [], writers: [], readFlags: 0, writeFlags: 0))
                i = out.count - 1
            }
            if out[i].data.isEmpty, !record.data.isEmpty { out[i].data = record.data }
            if side == O_RDONLY {
                if out[i].readers.isEmpty { out[i].readFlags = Int32(bitPattern: file.fFlags) }
                out[i].readers.append(Int32(file.fd))
            } else {
                if out[i].writers.isEmpty { out[i].writeFlags = Int32(bitPattern: file.fFlags) }
                out[i].writers.append(Int32(file.fd))
            }
        }
        for p in out where p.readers.isEmpty || p.writers.isEmpty {
            let fd = (p.readers + p.writers)[0]
            throw .unsupported(what: "fd \(fd) (\(p.name))",
                               why: "its \(p.readers.isEmpty ? "read" : "write") end is held by another process: only a pipe between the process's own fds is restored "
                                   + "(--inherit-fd \(fd) gives the process ckpt restore's own fd \(fd) instead)")
        }
        return out
    }

    /// A mapped file (program, library) must be the very file that was mapped: same inode
    /// at the path, same size and modification time (to the nanosecond). (Files open as
    /// descriptors are data the process may itself change; they are reopened by path.)
    static func checkUnchanged(_ path: String, _ recorded: FileIdentity, what: String) throws(RestoreError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .unsupported(what: what, why: "\(path) is gone (\(Errno(rawValue: errno)))")
        }
        // The kernel maps regular files and devices; anything else there now (a FIFO, whose
        // open would wait for a writer) is not the file that was mapped.
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFCHR || type == S_IFBLK else {
            throw .unsupported(what: what, why: "\(path) is not a regular file or a device now")
        }
        let now = FileIdentity(inode: UInt64(st.st_ino), device: UInt32(truncatingIfNeeded: st.st_dev),
                               size: UInt64(st.st_size),
                               mtimeNs: UInt64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec))
        // The device number is not compared: a filesystem without a fixed one (9p, NFS,
        // overlayfs, tmpfs) gets another at each mount, so after a reboot the same file
        // at the same path has another device (seen between two Debian kernels' boots).
        guard now.inode != recorded.inode || now.size != recorded.size || now.mtimeNs != recorded.mtimeNs else { return }
        var changes: [String] = []
        if now.inode != recorded.inode { changes.append("another file (inode \(recorded.inode) -> \(now.inode))") }
        if now.size != recorded.size { changes.append("size \(recorded.size) -> \(now.size)") }
        if now.mtimeNs != recorded.mtimeNs { changes.append("modified since") }
        throw .unsupported(what: what, why: "\(path) changed since the checkpoint: " + changes.joined(separator: ", "))
    }

    /// A shared file mapping's memory is the file: the file must be the same one (the
    /// inode at the path; devices as in `checkUnchanged`) and still a regular file, but
    /// its bytes, size and mtime are what the process and others wrote since, as they
    /// would be for the process had it run on.
    static func checkSameFile(_ path: String, _ recorded: FileIdentity?, what: String) throws(RestoreError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .unsupported(what: what, why: "\(path) is gone (\(Errno(rawValue: errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw .unsupported(what: what, why: "\(path) is not a regular file: a shared mapping of a device or special file is not restored")
        }
        if let recorded, UInt64(st.st_ino) != recorded.inode {
            throw .unsupported(what: what, why: "\(path) is another file now (inode \(recorded.inode) -> \(st.st_ino))")
        }
    }

    /// Opening a FIFO waits for its other end, so the new process and the restorer with it
    /// would wait for ever: a path the image has as a file (no pipe record: an O_PATH
    /// descriptor, a mapping) that names one now is refused (a FIFO with its pipe record is
    /// `NamedFIFO`'s), and the restorer opens every path O_NONBLOCK in case one appears there
    /// later. A path that does not exist now is left to the open to report.
    static func checkNotFIFO(_ path: String, what: String) throws(RestoreError) {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFIFO {
            throw .unsupported(what: what, why: "\(path) is a named FIFO, which the image does not record as one here (an O_PATH descriptor, "
                               + "a mapping, or a file that was not a FIFO then): not restored")
        }
    }

    static func isTerminal(_ path: String) -> Bool {
        path.hasPrefix("/dev/pts/") || path.hasPrefix("/dev/tty") || path == "/dev/console"
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
