#if canImport(Glibc)
import Glibc
#endif
import CCkptShims
import CCkptUAPI
import CkptImage
import CkptProtocol
import CkptReplay
import SystemPackage

/// `ckpt restore`: a new process from an image, in two halves as CRIU does it.
///
/// ```
///  restorer (this process)                     new process (StubProgram, stopped)
///  plan: read + refuse (RestorePlan)
///  spawn the stub from a memfd  ───────────>   stops itself
///  PTRACE_SEIZE + INTERRUPT
///  gadget page at an address the image leaves free; unmap everything else of the stub
///  per image vma: mmap / open+mmap / arch_prctl(ARCH_MAP_VDSO_64)  (remote syscalls)
///  compare /proc/PID/maps with the image
///  prctl(CKPT_PR_SET_MM_MAP): brk, stack, args, env, exe;  comm;  fds by path, positions
///  rt_sigaction for each signal the image does not leave at its default
///  memory contents: the kernel's restart session ──> pages written by the session's kernel
///                   (RestartReplayer, direct)         writer once each record is checked
///  credentials (setgroups, setresgid, setresuid) when they differ
///  threads: clone3 with the image's tid (clone when taken); per thread from inside it
///  set_robust_list, set_tid_address, rseq, sigaltstack
///  unmap the gadget page; PTRACE_SETREGSET(xstate), PTRACE_SETSIGMASK,
///  PTRACE_SETREGS(image regs); prlimit (resource limits); tgkill / kill (pending
///  signals, re-sent: the set, not their siginfo); PTRACE_DETACH       ──>  runs on
/// ```
/// The process is the restorer's child until the restorer exits, then init's (as
/// `criu restore -d`). Registers are the image's, including fs_base (TLS); a thread that
/// was stopped inside a restartable system call restarts it, as the kernel would have.
public struct Restorer {
    public struct Options: Sendable {
        /// Keep the process stopped (SIGSTOP) instead of letting it run.
        public var leaveStopped = false
        /// Give the process the restorer's terminal for its terminal fds (`--shell-job`);
        /// without it the new process gets a session of its own.
        public var shellJob = false
        /// Which pid (and thread ids) the process gets.
        public var pids = PidPolicy.any
        /// Who writes the memory contents.
        public var memory = MemoryPath.kernel
        public init(leaveStopped: Bool = false, shellJob: Bool = false, pids: PidPolicy = .any,
                    memory: MemoryPath = .kernel) {
            self.leaveStopped = leaveStopped
            self.shellJob = shellJob
            self.pids = pids
            self.memory = memory
        }
    }

    /// How the image's pages reach the new process.
    public enum MemoryPath: String, Sendable, CaseIterable {
        /// The kernel's restart session (`ckpt.ko`): each record checked by the kernel before
        /// its writer writes it, the stream's CRC-32C compared at commit.
        case kernel
        /// `process_vm_writev` from the mapped image (`ProcessMemoryWriter`): one copy, no
        /// module needed; the same record checks, made by the restorer.
        case process
    }

    /// The image's pid and thread ids are asked for with clone3's set_tid, which needs
    /// CAP_CHECKPOINT_RESTORE over the pid namespace and a free id.
    public enum PidPolicy: String, Sendable, CaseIterable {
        /// The image's ids where free and allowed, new ones (with a warning) otherwise.
        case any
        /// The image's ids or no restore (as CRIU), naming the id and why.
        case same
        /// New ids, even when the image's are free (a second copy beside the first).
        case new
    }

    public struct Result: Sendable {
        public var pid: pid_t
        /// Page bytes written into the process, and by whom.
        public var memoryBytes: UInt64
        public var memory: MemoryPath
        /// What wrote them, for the operator: "the kernel", "process_vm_writev", or
        /// /proc/PID/mem on a kernel without process_vm_writev.
        public var memoryCall: String
        /// Things restored differently than they were, for the operator (e.g. a new pid).
        public var warnings: [String]
    }

    let plan: RestorePlan
    let reader: ImageReader
    /// The kernel's restart session (`MemoryPath.kernel`; nil for `.process`).
    let replayer: RestartReplayer?
    let options: Options
    /// The pre-copy the image was taken after (its parent-pages records' pages).
    let parent: ImageReader?
    /// The restorer's fds of the tree's shared pipe ends and sockets, by `TreeEnds.key`,
    /// which the process inherits (`TreeRestorer`; empty for one process).
    var treeFDs: [String: Int32] = [:]

    public init(plan: RestorePlan, reader: ImageReader, replayer: RestartReplayer?, options: Options,
                parent: ImageReader? = nil) {
        self.plan = plan
        self.parent = parent
        self.reader = reader
        self.replayer = replayer
        self.options = options
    }

    /// Restores; `step` is told what is being done and `progress` how far the memory
    /// write is (image bytes walked, of all), on this thread (for progress output).
    public func run(step: (String) -> Void = { _ in },
                    progress: (UInt64, UInt64) -> Void = { _, _ in }) throws(RestoreError) -> Result {
        try Self.checkPermitted(plan)
        let process = try start(step: step)
        var finished = false
        defer { if !finished { process.kill() } }
        let built = try build(process, step: step, progress: progress)
        let result = try release(process, built)
        finished = true
        return result
    }

    /// A new process this restorer drives: traced, the stub's mappings gone but the gadget
    /// page, in a session of its own unless `--shell-job`.
    struct NewProcess {
        let pid: pid_t
        var remote: RemoteSyscalls
        /// Made by `fork` (inside its parent), not started from the stub's file.
        var forked = false
        var tracee: Tracee { remote.tracee }

        /// Ends it (a failed restore): SIGKILL, then reaped (a child or a tracee of ours).
        func kill() {
            Glibc.kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, __WALL)
        }
    }

    /// What `build` made, for `release`.
    struct Built {
        var tracees: [Tracee]
        var warnings: [String]
        var memoryBytes: UInt64
        var memoryCall: String
    }

    /// The stub started from its memfd, seized, cleared; its own session (a daemon's, as
    /// criu restore -d) unless --shell-job keeps the restorer's.
    func start(step: (String) -> Void) throws(RestoreError) -> NewProcess {
        step("starting the new process")
        let pid = try spawnStub()
        var started = NewProcess(pid: pid, remote: RemoteSyscalls(tracee: Tracee(pid: pid), base: [], gadget: 0))
        do throws(RestoreError) {
            let tracee = try Tracee.seize(pid)
            started.remote = RemoteSyscalls(tracee: tracee, base: try tracee.getRegisters(),
                                            gadget: StubProgram.base + UInt64(StubProgram.gadgetOffset))
            step("clearing the new process")
            try moveGadget(&started.remote)
            if !options.shellJob { try started.remote.call("setsid", Int32(CKPT_SYS_SETSID)) }
        } catch {
            started.kill()
            throw error
        }
        return started
    }

    /// A child of `parent` (cleared by `start` or by this) for this restorer's image, made as
    /// the original was, by a fork inside the parent: with the image's pid when it is free
    /// and may be asked for (clone3 set_tid), else a new one (`--pid same`: refused). It is
    /// traced from its first instruction (`PTRACE_O_TRACEFORK`), holds a copy of the parent's
    /// gadget page and fds (the tree's shared pipes), and is cleared for its own image.
    func fork(from parent: NewProcess) throws(RestoreError) -> NewProcess {
        var child = try Self.forkChild(Int32(bitPattern: plan.task.tgid), from: parent, pids: options.pids)
        do throws(RestoreError) { try moveGadget(&child.remote) } catch {
            child.kill()
            throw error
        }
        return child
    }

    /// A child of `parent` made by a fork inside it, with pid `tgid` when free and may be
    /// asked for (else a new one; `.same`: refused), traced from its first instruction; its
    /// gadget is the parent's, at the same address (`fork` moves it for an image).
    static func forkChild(_ tgid: Int32, from parent: NewProcess, pids: PidPolicy) throws(RestoreError) -> NewProcess {
        let at = parent.remote.scratch + 3072
        var made: pid_t = -1
        var args = [UInt8](repeating: 0, count: 256)
        let n = pids == .new ? 0 : ckpt_remote_process_clone3(&args, args.count, at, tgid)
        if n > 0 {
            try parent.tracee.write(Array(args.prefix(n)), at: at)
            do throws(RestoreError) {
                made = pid_t(try parent.remote.call("clone3 (process \(tgid), same id)", Int32(CKPT_SYS_CLONE3), at,
                                                    UInt64(ckpt_clone_args_size())))
            } catch let .remote(_, errno) where [.fileExists, .notPermitted, .noFunction, .invalidArgument].contains(errno) {
                if pids == .same { throw Self.idRefused("pid \(tgid)", errno) }
            }
        }
        if made < 0 {
            made = pid_t(try parent.remote.call("fork (process \(tgid))", Int32(CKPT_SYS_CLONE), UInt64(SIGCHLD), 0, 0, 0, 0))
        }
        var child = NewProcess(pid: made, remote: parent.remote, forked: true)
        do throws(RestoreError) {
            let tracee = try Tracee.clonedThread(made)
            child.remote = RemoteSyscalls(tracee: tracee, base: try tracee.getRegisters(), gadget: parent.remote.gadget,
                                          batchLoop: parent.remote.batchLoop)
        } catch {
            child.kill()
            throw error
        }
        return child
    }

    /// Everything of the image in `process`, which is left stopped and traced: mappings,
    /// address space, descriptors, signal dispositions, memory, credentials, threads,
    /// registers, resource limits, pending signals.
    func build(_ process: NewProcess, step: (String) -> Void,
               progress: (UInt64, UInt64) -> Void) throws(RestoreError) -> Built {
        let remote = process.remote
        let pid = process.pid
        // From here every path is opened with the process's rights (another user's process:
        // `ProcessFileAccess`), until setCredentials makes them its own.
        let access = try ProcessFileAccess.begin(remote, task: plan.task)
        step("mapping \(plan.mappings.count) areas")
        let objects = try makeMappings(remote, access)
        try compareMappings(process.tracee)
        try setAddressSpace(remote, access)
        step("opening \(plan.descriptors.count) descriptors")
        try placeTreeEnds(remote)
        try restoreDescriptors(remote, objects: objects, access: access)
        try restorePipes(remote)
        let fifoWarnings = try restoreNamedFIFOs(remote, access: access)
        try restoreSocketPairs(remote)
        let socketsLost = try plan.socketPairs.compactMap(\.lost) + restoreInetSockets(remote) + restoreNamedUnixSockets(remote)
        try restoreEpolls(remote)
        // Every path is opened by now: the host's view of them ends here.
        if let root = plan.changedRoot {
            try remote.call("chroot \(root)\(access.asWhom)", Int32(CKPT_SYS_CHROOT), try remote.string(root))
        }
        var warnings = fifoWarnings + socketsLost
        step("setting signal dispositions")
        warnings += try restoreSignalActions(remote)
        let memoryBytes: UInt64
        var memoryCall = options.memory == .kernel ? "the kernel" : "process_vm_writev"
        // Direct: the kernel stages only what is queued for its writer (the replayer's write
        // window), whatever the image's size; on any failure the new process is killed (it
        // was made for this), so all-or-nothing is not needed.
        do throws(ReplayError) {
            switch options.memory {
            case .kernel:
                guard let replayer else { preconditionFailure("MemoryPath.kernel without a RestartReplayer") }
                step("writing memory through the kernel")
                memoryBytes = try replayer.replay(reader, pid: UInt32(pid), direct: true, parent: parent,
                                                  progress: progress).reply.bytes
            case .process:
                let writer = ProcessMemoryWriter(processVMWrite: ProcessMemoryWriter.kernelHasProcessVMWrite)
                func call(_ processVMWrite: Bool) -> String {
                    processVMWrite ? "process_vm_writev" : "/proc/\(pid)/mem (this kernel has no process_vm_writev)"
                }
                step("writing memory with \(call(writer.processVMWrite)), \(writer.writers) writer thread\(writer.writers == 1 ? "" : "s")")
                // The kernel's rule (ckpt_vma_dumpable): never a named file's shared mapping (its
                // memory is the file) nor device memory.
                let written = try writer.write(reader, pid: pid, parent: parent, acceptsPages: { v in
                    switch VMAKind(v) {
                    case .sharedFile, .vvar: false
                    default: true
                    }
                }, progress: progress)
                memoryBytes = written.bytes
                memoryCall = call(written.processVMWrite)
            }
        } catch {
            // A record whose checksum fails as it is streamed (no verify pass first), or a
            // parent image that does not hold what the image's parent-pages ask for.
            switch error {
            case let .image(e): throw .image("\(e)")
            case .parentMissing, .noParent, .pagesRefused, .trailerPages, .meta: throw .image("\(error)")
            case .memory: throw .memory("\(error)")
            default: break
            }
            throw .kernel("\(error)")
        }
        try setCredentials(remote)
        step("restoring \(plan.threads.count) thread\(plan.threads.count == 1 ? "" : "s")")
        let tracees = try makeThreads(remote)
        // Last of the calls that need the process's memory (batch tables, a thread's
        // sigaltstack and queued siginfo): a process that is not dumpable keeps out a
        // restorer without CAP_SYS_PTRACE, its own user (scenario restore-credentials).
        try restoreDumpable(remote)
        try remote.unmapGadgetPage()
        for (t, thread) in zip(tracees, plan.threads) {
            warnings += try restoreThreadState(t, thread)
            try t.setRegisters(thread.resumeRegisters)
        }
        step("setting resource limits, pending signals")
        warnings += try restoreResourceLimits(pid)
        warnings += try raisePendingSignals(pid, tracees)
        return Built(tracees: tracees, warnings: warnings, memoryBytes: memoryBytes, memoryCall: memoryCall)
    }

    /// Lets the built process run (unless `--stopped`): SIGCONT, every thread detached.
    func release(_ process: NewProcess, _ built: Built) throws(RestoreError) -> Result {
        let pid = process.pid
        var warnings = built.warnings
        // The stub's own SIGSTOP left the group stopped: without a SIGCONT it would go back
        // to that stop when detached (which is what --stopped wants). A forked child was
        // never group-stopped; the SIGCONT is harmless there.
        if !options.leaveStopped, Glibc.kill(pid, SIGCONT) != 0 {
            throw .system(call: "kill(SIGCONT) \(pid)", errno: Errno(rawValue: errno))
        }
        // A forked child never stopped itself: --stopped queues the stop it takes when detached.
        if options.leaveStopped, process.forked, Glibc.kill(pid, SIGSTOP) != 0 {
            throw .system(call: "kill(SIGSTOP) \(pid)", errno: Errno(rawValue: errno))
        }
        for t in built.tracees { try t.detach() }
        let moved = zip(plan.threads, built.tracees).dropFirst().filter { pid_t($0.tid) != $1.pid }
        if !moved.isEmpty, options.pids != .new {
            let ids = moved.map { "\($0.tid)->\($1.pid)" }.joined(separator: " ")
            warnings.append("threads have new ids (image->now): \(ids)")
        }
        if pid != pid_t(plan.task.tgid), options.pids != .new {
            warnings.append("the image's pid was \(plan.task.tgid); the process has pid \(pid) now")
        }
        // Each thread of an older image says the same ("no FPU state"): once is enough.
        var seen = Set<String>()
        return Result(pid: pid, memoryBytes: built.memoryBytes, memory: options.memory, memoryCall: built.memoryCall,
                      warnings: warnings.filter { seen.insert($0).inserted })
    }

    // MARK: steps

    /// The process gets the restorer's credentials, then the image's when they differ,
    /// which only root may ask for; likewise a hard limit above the restorer's own, and
    /// the executable, which a non-root restorer sets only with an ambient capability.
    /// Refused before anything starts (`ckpt restore` asks before it opens the family).
    public static func checkPermitted(_ plan: RestorePlan) throws(RestoreError) {
        if !plan.task.idsAreTheRestorers, geteuid() != 0 {
            throw .unsupported(what: "credentials",
                               why: "the image's uid \(plan.task.uid)/gid \(plan.task.gid) are not yours, and only root may restore as another user")
        }
        if let root = plan.changedRoot, geteuid() != 0 {
            throw .unsupported(what: "root directory \(root)", why: "the process ran chrooted there, and only root may chroot")
        }
        // A hard limit above the restorer's own needs CAP_SYS_RESOURCE: refused now, not
        // after the process exists (root is assumed to have it).
        guard geteuid() != 0 else { return }
        if let refusal = RestorePlan.pipeSizeRefusal(plan.pipes.map { ($0.readers + $0.writers, $0.name, $0.size) }
                                                           + plan.namedFIFOs.map { ($0.ends.map(\.fd), "FIFO \($0.path)", $0.size) },
                                                           pipeMaxSize: RestorePlan.readSysctl("/proc/sys/fs/pipe-max-size")) {
            throw refusal
        }
        for (resource, limit) in (plan.resourceLimits ?? []).enumerated() {
            var mine = ckpt_rlimit()
            guard ckpt_prlimit(0, Int32(resource), nil, &mine) == 0 else { continue }
            // RLIM_INFINITY is all ones, the largest value: a plain comparison.
            if limit.hard <= mine.hard { continue }
            throw .unsupported(what: "resource limit \(ResourceLimit.name(resource))",
                               why: "the image's hard limit \(ResourceLimit.describe(limit.hard)) is above yours (\(ResourceLimit.describe(mine.hard))), which only root may raise")
        }
        // PR_SET_MM_MAP sets the executable only for a caller with CAP_CHECKPOINT_RESTORE
        // or CAP_SYS_ADMIN (kernel/sys.c), and the caller is the stub: it has them when the
        // restorer is root (in its user namespace) or holds one as an ambient capability,
        // the only ones an exec keeps for a non-root user. Refused now, not after the
        // process exists.
        let setsExecutable: UInt64 = 1 << UInt64(CKPT_CAP_CHECKPOINT_RESTORE) | 1 << UInt64(CKPT_CAP_SYS_ADMIN)
        if let exe = plan.executable, (OwnCapabilities.set("CapAmb") ?? 0) & setsExecutable == 0 {
            throw .unsupported(what: "executable \(exe)",
                               why: "setting it (PR_SET_MM_MAP) needs CAP_CHECKPOINT_RESTORE in the new process: run as root, or with it "
                                   + "as an ambient capability (setpriv --inh-caps +checkpoint_restore --ambient-caps +checkpoint_restore)")
        }
    }

    func spawnStub() throws(RestoreError) -> pid_t {
        let fd = ckpt_memfd_create("ckpt-restore", UInt32(CKPT_MFD_CLOEXEC))
        guard fd >= 0 else { throw .system(call: "memfd_create", errno: Errno(rawValue: errno)) }
        defer { close(fd) }
        let bytes = StubProgram.image
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .system(call: "write the stub", errno: Errno(rawValue: errno))
        }
        var pid: pid_t = 0
        let path = "/proc/self/fd/\(fd)"
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup(plan.task.comm), nil]
        defer { free(argv[0]) }
        var envp: [UnsafeMutablePointer<CChar>?] = [nil]
        // The image's pid when it is free and we may ask for it (clone3 set_tid), as CRIU
        // does; otherwise any pid, and run() warns.
        pid = options.pids == .new ? -1 : ckpt_spawn_with_pid(path, &argv, &envp, Int32(bitPattern: plan.task.tgid))
        if pid < 0, options.pids == .same {
            throw Self.idRefused("pid \(plan.task.tgid)", Errno(rawValue: errno))
        }
        if pid < 0 {
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            defer { posix_spawnattr_destroy(&attr) }
            // Every disposition the default, as ckpt_spawn_with_pid makes them.
            var all = sigset_t()
            sigfillset(&all)
            posix_spawnattr_setsigdefault(&attr, &all)
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF))
            let rc = posix_spawn(&pid, path, nil, &attr, &argv, &envp)
            guard rc == 0 else { throw .system(call: "posix_spawn the stub", errno: Errno(rawValue: rc)) }
        }
        try Self.waitForStop(pid)
        return pid
    }

    /// The new process stops itself (the stub does nothing before kill(self, SIGSTOP)): waits
    /// for that, polling every millisecond for at most `timeoutMs`, without taking the stop's
    /// report (WNOWAIT), so `Tracee.seize` finds it as before. A process that ends first is
    /// reaped and its end said; one that does neither in time is killed and reaped.
    static func waitForStop(_ pid: pid_t, timeoutMs: Int = 2000) throws(RestoreError) {
        func reap() { var s: Int32 = 0; waitpid(pid, &s, __WALL) }
        for _ in 0...timeoutMs {
            var status: Int32 = 0
            switch ckpt_child_state(pid, &status) {
            case 1: return
            case 2: reap(); throw .mismatch("the new process exited with status \(status) before it stopped")
            case 3: reap(); throw .mismatch("the new process was killed by signal \(status) before it stopped")
            case 0: usleep(1000)
            default:
                let e = Errno(rawValue: errno)
                kill(pid, SIGKILL); reap()
                throw .system(call: "waitid \(pid)", errno: e)
            }
        }
        kill(pid, SIGKILL); reap()
        throw .mismatch("the new process did not stop within \(timeoutMs) ms")
    }

    /// With `--pid same`, the first of the image's ids (the process's, then its threads')
    /// that another process or thread holds now (`/proc/ID` exists for every id in use),
    /// as the refusal the restore would meet when it asks for it; nil when all are free.
    public static func takenIDRefusal(_ plan: RestorePlan) -> RestoreError? {
        plan.threads.first { access("/proc/\($0.tid)", F_OK) == 0 }.map { idRefused("id \($0.tid)", .fileExists) }
    }

    /// Why `--pid same` could not have the image's id.
    static func idRefused(_ what: String, _ errno: Errno) -> RestoreError {
        switch errno {
        case .fileExists:
            .unsupported(what: what, why: "the id is in use by another process now (--pid any gives the process a new one)")
        case .notPermitted:
            .unsupported(what: what, why: "asking for an id (clone3 set_tid) needs CAP_CHECKPOINT_RESTORE over the pid namespace")
        default:
            .unsupported(what: what, why: "clone3 with set_tid failed: \(errno)")
        }
    }

    /// A fresh page for the gadget where neither the image nor the stub has anything;
    /// then every other mapping of the stub goes (its text, stack, vdso, vvar), all but
    /// the vsyscall page.
    func moveGadget(_ remote: inout RemoteSyscalls) throws(RestoreError) {
        let stubMaps = try remote.tracee.maps()
        func free(_ a: UInt64) -> Bool {
            !plan.mappings.contains { $0.meta.start < a + 4096 && a < $0.meta.end } &&
                !stubMaps.contains { $0.start < a + 4096 && a < $0.end }
        }
        guard let page = stride(from: UInt64(0x1000_0000), to: 0x7f00_0000_0000, by: 0x1000_0000).first(where: free) else {
            throw .mismatch("no free page for the restorer's gadget")
        }
        try remote.call("mmap the gadget page at \(hex(page))", Int32(CKPT_SYS_MMAP), page, 4096,
                        UInt64(PROT_READ | PROT_WRITE | PROT_EXEC),
                        UInt64(MAP_PRIVATE | MAP_ANONYMOUS | Int32(CKPT_MAP_FIXED_NOREPLACE)), UInt64.max, 0)
        try remote.tracee.write(StubProgram.gadgetPage, at: page)
        remote.gadget = page
        remote.batchLoop = true
        // [vsyscall] (kernels with LEGACY_VSYSCALL_XONLY or _EMULATE) is the kernel's gate
        // area, not a mapping: munmap refuses it, and every process has it anyway.
        try remote.calls(stubMaps.filter { !($0.start <= page && page < $0.end) && $0.name != "[vsyscall]" }.map { m in
            .init("munmap \(hex(m.start))-\(hex(m.end)) \(m.name)", Int32(CKPT_SYS_MUNMAP), m.start, m.end - m.start)
        })
    }

    /// Every mapping of the image, in the new process. Returns the memfd made for each
    /// unnamed shared memory object (one per object, so two vmas of one object share their
    /// pages again), moved above every image fd; `restoreDescriptors` uses and closes them.
    func makeMappings(_ remote: RemoteSyscalls, _ access: ProcessFileAccess) throws(RestoreError) -> [VMAKind.SharedObject: UInt64] {
        let arch_map_vdso_64 = UInt64(CKPT_ARCH_MAP_VDSO_64)
        var objects: [VMAKind.SharedObject: UInt64] = [:]
        // Each remote call is a stop and a resume of the process under ptrace, so the files
        // are opened in batches first (`RemoteSyscalls.open`, paths beside the table), each
        // once for all its mappings (a library has four or five), then the maps are made in
        // batches (`RemoteSyscalls.calls`, in the image's order).
        var toOpen: [ProcessFileAccess.File] = []
        var fileIndex: [String: Int] = [:]  // "flags path" -> its place in toOpen
        var fileOf = [Int?](repeating: nil, count: plan.mappings.count)  // mapping -> its file's place
        for (i, m) in plan.mappings.enumerated() {
            let path: String, flags: Int32
            switch m.kind {
            case let .file(p): (path, flags) = (p, O_RDONLY)
            case let .sharedFile(p):
                // Writable only when the original's file was (VM_MAYWRITE): mprotect can
                // then make it writable again, as it could before.
                (path, flags) = (p, m.meta.vmFlags & VMFlags.mayWrite != 0 ? O_RDWR : O_RDONLY)
            default: continue
            }
            let key = "\(flags) \(path)"
            if fileIndex[key] == nil {
                fileIndex[key] = toOpen.count
                // O_NONBLOCK: a FIFO put at the path since the plan looked returns at once
                // (and mmap refuses it) instead of waiting for a writer with the restorer.
                toOpen.append(.init(path: path, flags: flags | O_NONBLOCK, held: m.meta.identity,
                                    what: "\(path) for mapping \(RestorePlan.describe(m))"))
            }
            fileOf[i] = fileIndex[key]
        }
        let fds = try access.open(toOpen)
        var maps: [RemoteSyscalls.Call] = []
        for (i, m) in plan.mappings.enumerated() {
            let what = "mapping \(RestorePlan.describe(m))"
            let prot = UInt64(VMAKind.prot(m.meta.vmFlags))
            var flags = MAP_PRIVATE | MAP_FIXED
            if m.meta.vmFlags & VMFlags.noReserve != 0 { flags |= MAP_NORESERVE }
            switch m.kind {
            case .vvar:
                // The vDSO brings its data pages: it must come right after them.
                guard i + 1 < plan.mappings.count, plan.mappings[i + 1].kind == .vdso,
                      plan.mappings[i + 1].meta.start == m.meta.end else {
                    throw .unsupported(what: what, why: "a vvar area not followed by the vDSO: unknown layout")
                }
                maps.append(.init("arch_prctl(ARCH_MAP_VDSO_64) at \(hex(m.meta.start))", Int32(CKPT_SYS_ARCH_PRCTL),
                                  arch_map_vdso_64, m.meta.start))
            case .vdso:
                if i == 0 || plan.mappings[i - 1].kind != .vvar {
                    maps.append(.init("arch_prctl(ARCH_MAP_VDSO_64) for \(what)", Int32(CKPT_SYS_ARCH_PRCTL),
                                      arch_map_vdso_64, m.meta.start))
                }
            case .anonymous:
                maps.append(.init("mmap \(what)", Int32(CKPT_SYS_MMAP), m.meta.start, m.length, prot,
                                  UInt64(flags | MAP_ANONYMOUS), UInt64.max, 0))
            case .stack:
                maps.append(.init("mmap \(what)", Int32(CKPT_SYS_MMAP), m.meta.start, m.length, prot,
                                  UInt64(flags | MAP_ANONYMOUS | MAP_GROWSDOWN), UInt64.max, 0))
            case .file:
                let fd = fds[fileOf[i]!]
                maps.append(.init("mmap \(what)", Int32(CKPT_SYS_MMAP), m.meta.start, m.length, prot, UInt64(flags), fd,
                                  m.meta.pgoff * 4096))
            case .sharedFile:
                let fd = fds[fileOf[i]!]
                maps.append(.init("mmap \(what)", Int32(CKPT_SYS_MMAP), m.meta.start, m.length, prot,
                                  UInt64(MAP_SHARED | MAP_FIXED), fd, m.meta.pgoff * 4096))
            case let .sharedMemory(object):
                let fd: UInt64
                if let made = objects[object] {
                    fd = made
                } else {
                    let name = RestorePlan.memfdName(m.meta.path)
                    let flags = CKPT_MFD_CLOEXEC | (object.sealable ? CKPT_MFD_ALLOW_SEALING : 0)
                    let made = try remote.call("memfd_create \(name) for \(what)", Int32(CKPT_SYS_MEMFD_CREATE),
                                               try remote.string(name), UInt64(flags))
                    fd = try moveAbove(remote, made, name)
                    objects[object] = fd
                    try remote.call("ftruncate \(name) to \(object.size) bytes", Int32(CKPT_SYS_FTRUNCATE), fd, object.size)
                    if object.sealsBeforeMapping { try seal(remote, fd, object, name) }
                }
                maps.append(.init("mmap \(what)", Int32(CKPT_SYS_MMAP), m.meta.start, m.length, prot,
                                  UInt64(MAP_SHARED | MAP_FIXED), fd, m.meta.pgoff * 4096))
            case .shared:
                throw .unsupported(what: what, why: "shared memory is not restored")  // refused by the plan already
            }
        }
        try remote.calls(maps)
        try remote.calls(fds.map { .init("close", Int32(CKPT_SYS_CLOSE), $0) })
        for (object, fd) in objects where object.sealable && !object.sealsBeforeMapping {
            try seal(remote, fd, object, "the shared memory object inode \(object.inode)")
        }
        return objects
    }

    /// The object's seals on its memfd `fd` (made with `MFD_ALLOW_SEALING`), all in one
    /// `F_ADD_SEALS`, so `F_SEAL_SEAL` among them comes with the rest; none when it had none.
    func seal(_ remote: RemoteSyscalls, _ fd: UInt64, _ object: VMAKind.SharedObject, _ name: String) throws(RestoreError) {
        guard let seals = object.seals, seals != 0 else { return }
        try remote.call("F_ADD_SEALS \(hex(UInt64(seals))) for \(name)", Int32(CKPT_SYS_FCNTL), fd, UInt64(CKPT_F_ADD_SEALS), UInt64(seals))
    }

    /// Every image vma must now lie inside one mapping: adjacent areas with the same
    /// protection merge in the new process (the old one kept them apart by their
    /// anon_vmas), which the kernel's restart accepts. The vDSO and its data must have
    /// exactly the image's ranges: another size is another vDSO.
    func compareMappings(_ tracee: Tracee) throws(RestoreError) {
        let now = try tracee.maps()
        func present(_ m: RestorePlan.Mapping) -> Bool {
            let exact = m.kind == .vdso || m.kind == .vvar
            return now.contains { exact ? $0.start == m.meta.start && $0.end == m.meta.end
                                        : $0.start <= m.meta.start && m.meta.end <= $0.end }
        }
        for m in plan.mappings where !present(m) {
            let found = now.first { $0.start <= m.meta.start && m.meta.start < $0.end }
            let why = found.map { "the new process has \(hex($0.start))-\(hex($0.end)) \($0.name) there" } ?? "nothing is mapped there"
            throw .mismatch("mapping \(RestorePlan.describe(m)) could not be recreated: \(why)"
                + (m.kind == .vdso || m.kind == .vvar ? " (this kernel's vDSO differs from the image's: \(plan.header.release))" : ""))
        }
    }

    /// brk, stack, argument and environment areas and the executable (`CKPT_PR_SET_MM_MAP`),
    /// the command name, the working directory, the umask and the personality.
    func setAddressSpace(_ remote: RemoteSyscalls, _ access: ProcessFileAccess) throws(RestoreError) {
        var exeFD = UInt64.max
        if let exe = plan.executable {
            // O_NONBLOCK as for the mappings' files (`makeMappings`); the file the image
            // recorded is the one mapped from that path.
            let held = plan.mappings.lazy.compactMap { m -> FileIdentity? in
                if case let .file(path) = m.kind, path == exe { return m.meta.identity }
                return nil
            }.first
            exeFD = try access.open(exe, flags: O_RDONLY | O_CLOEXEC | O_NONBLOCK, held: held, what: "\(exe) (the executable)")
        }
        let mm = plan.mm
        // struct prctl_mm_map (linux/prctl.h): 13 u64 then auxv_size and exe_fd (u32 each).
        var words: [UInt64] = [mm.startCode, mm.endCode, mm.startData, mm.endData, mm.startBrk, mm.brk,
                               mm.startStack, mm.argStart, mm.argEnd, mm.envStart, mm.envEnd, 0]
        words.append(UInt64(UInt32(truncatingIfNeeded: exeFD)) << 32)  // auxv_size 0, exe_fd
        var bytes: [UInt8] = []
        for w in words { bytes += withUnsafeBytes(of: w.littleEndian, Array.init) }
        typealias Call = RemoteSyscalls.Call
        // One stop of the process for all of them, in this order (the batch loop).
        var list = [Call("prctl(CKPT_PR_SET_MM_MAP)", Int32(CKPT_SYS_PRCTL), pointingAt: bytes, in: 2,
                         UInt64(CKPT_PR_SET_MM), UInt64(CKPT_PR_SET_MM_MAP), 0, UInt64(bytes.count), 0)]
        if exeFD != UInt64.max { list.append(Call("close", Int32(CKPT_SYS_CLOSE), exeFD)) }
        list.append(Call("prctl(CKPT_PR_SET_NAME)", Int32(CKPT_SYS_PRCTL), pointingAt: Array(plan.task.comm.utf8) + [0], in: 1,
                         UInt64(CKPT_PR_SET_NAME), 0))
        // Older images have neither: the restorer's stay.
        if let cwd = plan.task.cwd {
            list.append(Call("chdir \(cwd)\(access.asWhom)", Int32(CKPT_SYS_CHDIR), pointingAt: Array(cwd.utf8) + [0], in: 0, 0))
        }
        if let umask = plan.task.umask { list.append(Call("umask \(String(umask, radix: 8))", Int32(CKPT_SYS_UMASK), UInt64(umask))) }
        if let p = plan.task.personality {
            list.append(Call("personality \(hex(UInt64(p)))", Int32(CKPT_SYS_PERSONALITY), UInt64(p)))
        }
        try remote.calls(list)
    }

    /// Each pipe between the process's own fds: made with pipe2 in the new process, moved
    /// above every image fd (so placing one end cannot close the other), sized, given its
    /// bytes back with write, then dup2'd to each of its fds with their status flags.
    func restorePipes(_ remote: RemoteSyscalls) throws(RestoreError) {
        guard !plan.pipes.isEmpty else { return }
        let fdsAt = remote.scratch + 3584
        for p in plan.pipes {
            // Non-blocking while it is filled: a write that does not fit fails (EAGAIN) instead
            // of waiting for a reader that is this stopped process. The F_SETFLs below give
            // each side the image's flags.
            try remote.call("pipe2 for \(p.name)", Int32(CKPT_SYS_PIPE2), fdsAt, UInt64(O_NONBLOCK))
            let raw = try remote.tracee.read(8, at: fdsAt)
            var ends: [UInt64] = []
            func int32(at i: Int) -> UInt64 {
                var v: UInt64 = 0
                for b in 0..<4 { v |= UInt64(raw[i + b]) << UInt64(8 * b) }
                return v
            }
            for made in [int32(at: 0), int32(at: 4)] { ends.append(try moveAbove(remote, made, p.name)) }
            let (r, w) = (ends[0], ends[1])
            if p.size > 0 {
                // It returns the capacity made (a power of two of pages, at least asked for).
                let capacity = try remote.call("F_SETPIPE_SZ \(p.size) for \(p.name)", Int32(CKPT_SYS_FCNTL), w,
                                               UInt64(ckpt_f_setpipe_sz()), UInt64(p.size))
                guard capacity >= UInt64(p.data.count) else {
                    throw .mismatch("\(p.name): the new pipe holds \(capacity) bytes, not the \(p.data.count) it held")
                }
            }
            try writeAll(remote, p.data, to: w, p.name)
            for (fds, end, flags) in [(p.readers, r, p.readFlags), (p.writers, w, p.writeFlags)] {
                for fd in fds {
                    try remote.call("dup2 \(p.name) to fd \(fd)", Int32(CKPT_SYS_DUP2), end, UInt64(fd))
                }
                // Status flags belong to the open pipe end, shared by its dups: set once.
                try remote.call("F_SETFL fd \(fds[0]) (\(p.name))", Int32(CKPT_SYS_FCNTL), UInt64(fds[0]), UInt64(F_SETFL),
                                UInt64(UInt32(bitPattern: flags & (O_NONBLOCK | O_APPEND))))
                try remote.call("close", Int32(CKPT_SYS_CLOSE), end)
            }
        }
    }

    /// The image's fds by path, at their positions (an fd of the same open file as an
    /// earlier one, `2>&1`, `dup2`'d from it: `RestorePlan.sameOpenFile`), and its fds of shared memory objects
    /// from the memfds of `objects` (closed here); the stub's other fds closed. Terminals
    /// (`--shell-job`) and `--inherit-fd` fds stay the restorer's, which the process
    /// inherited at the same number.
    func restoreDescriptors(_ remote: RemoteSyscalls, objects: [VMAKind.SharedObject: UInt64],
                            access: ProcessFileAccess) throws(RestoreError) {
        var keep = Set(plan.descriptors.compactMap { d -> Int32? in
            switch d {
            case let .terminal(fd, _), let .inherited(fd), let .sharedPipe(fd, _), let .sharedSocket(fd, _), let .sharedFile(fd, _): fd
            default: nil
            }
        })
        let stubFDs = Set(Self.openDescriptors(remote.tracee.pid))
        for case let .inherited(fd) in plan.descriptors where !stubFDs.contains(fd) {
            throw .mismatch("fd \(fd) (--inherit-fd): the new process did not inherit it from ckpt restore")
        }
        for fd in objects.values { keep.insert(Int32(fd)) }
        try remote.calls(stubFDs.filter { !keep.contains($0) }.sorted().map { fd in
            .init("close fd \(fd)", Int32(CKPT_SYS_CLOSE), UInt64(fd))
        })
        for d in plan.descriptors {
            // An fd of an open file an earlier fd has: the same open file again (one offset).
            if let first = plan.sameOpenFile[d.fd] {
                try remote.call("dup2 fd \(first) to fd \(d.fd) (one open file)", Int32(CKPT_SYS_DUP2), UInt64(first), UInt64(d.fd))
                continue
            }
            let fd: Int32, path: String, flags: Int32, position: UInt64
            var held: FileIdentity?, memfd = false
            switch d {
            case let .path(f, p, fl, pos, identity): (fd, path, flags, position, held) = (f, p, fl, pos, identity)
            case let .sharedMemory(f, object, fl, pos):
                // A new open file of the same object, as a reopen of /proc/PID/fd/N makes.
                guard let made = objects[object] else { throw .mismatch("fd \(f): no memfd was made for its object") }
                (fd, path, flags, position, memfd) = (f, "/proc/self/fd/\(made)", fl, pos, true)
            case let .inotify(f, fl, watches):
                try restoreInotify(remote, fd: f, flags: fl, watches: watches, access: access)
                continue
            case let .event(f, fl, e):
                try restoreEvent(remote, fd: f, flags: fl, e)
                continue
            case .terminal, .inherited, .pipe, .sharedPipe, .sharedSocket, .sharedFile, .fifo, .socket, .inet, .epoll: continue
            }
            let what = "fd \(fd) (\(path))"
            let clean = flags & ~(O_CREAT | O_TRUNC | O_EXCL)
            // Opened O_NONBLOCK: a FIFO put at the path since the plan refused one returns at
            // once instead of waiting for its other end with the restorer. F_SETFL then
            // clears it unless the image has it: it changes only that bit, the others being
            // as open set them from the same flags.
            // A memfd's path is the restorer's own, to the memfd it made.
            let got = memfd
                ? try remote.call("open \(what)", Int32(CKPT_SYS_OPEN), try remote.string(path), UInt64(UInt32(bitPattern: clean | O_NONBLOCK)), 0)
                : try access.open(path, flags: clean | O_NONBLOCK, held: held, what: what)
            var then: [RemoteSyscalls.Call] = []
            if clean & O_NONBLOCK == 0 {
                then.append(.init("F_SETFL \(what)", Int32(CKPT_SYS_FCNTL), got, UInt64(F_SETFL), UInt64(UInt32(bitPattern: clean))))
            }
            if got != UInt64(fd) {
                then.append(.init("dup2 \(what)", Int32(CKPT_SYS_DUP2), got, UInt64(fd)))
                then.append(.init("close", Int32(CKPT_SYS_CLOSE), got))
            }
            if position > 0 {
                then.append(.init("lseek \(what) to \(position)", Int32(CKPT_SYS_LSEEK), UInt64(fd), position, UInt64(SEEK_SET)))
            }
            // One stop of the process for all of them (the gadget page's batch loop).
            if !then.isEmpty { try remote.calls(then) }
        }
        try remote.calls(objects.values.sorted().map { .init("close", Int32(CKPT_SYS_CLOSE), $0) })
    }

    static func openDescriptors(_ pid: pid_t) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/fd") else { return [] }
        defer { closedir(dir) }
        var fds: [Int32] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = Int32(name) { fds.append(fd) }
        }
        return fds
    }

    /// The image's dispositions that are not the default. The new process starts with
    /// every one the default (`spawnStub` resets them: exec would keep the restorer's
    /// ignored signals ignored), so a default one needs no call.
    func restoreSignalActions(_ remote: RemoteSyscalls) throws(RestoreError) -> [String] {
        let actions = plan.signalActions ?? []
        let at = remote.scratch + 2048
        for (i, act) in actions.enumerated() where !act.isDefault {
            let sig = i + 1
            guard sig != SIGKILL && sig != SIGSTOP else { continue }
            try remote.tracee.write(act.bytes, at: at)
            try remote.call("rt_sigaction(\(sig)) handler \(hex(act.handler)) flags \(hex(act.flags))",
                            Int32(CKPT_SYS_RT_SIGACTION), UInt64(sig), at, 0, 8)
        }
        return plan.signalActions == nil
            ? ["the image has no signal dispositions (an older module took it): every signal has its default action"]
            : []
    }

    /// The image's other threads, created by the leader with clone as pthread_create
    /// would (their registers, TLS included, come later), and each thread's kernel-held
    /// pointers set from inside it: robust list, clear-child-tid, rseq registration.
    /// Returns the threads' tracees, the leader first, in the plan's order.
    func makeThreads(_ leader: RemoteSyscalls) throws(RestoreError) -> [Tracee] {
        var tracees = [leader.tracee]
        try setThreadPointers(leader, plan.threads[0], tgid: leader.tracee.pid)
        if let q = plan.sharedQueue {
            // Before any other thread exists: they are cloned with the leader's mask, all
            // blocked by then, so nothing is delivered while the restorer still drives them.
            try queueSignals(leader, q, process: true, tgid: leader.tracee.pid)
        }
        for thread in plan.threads.dropFirst() {
                let t = try Tracee.clonedThread(try cloneThread(leader, thread))
            tracees.append(t)
            // The same address space: the leader's gadget page, with its batch loop.
            try setThreadPointers(RemoteSyscalls(tracee: t, base: try t.getRegisters(), gadget: leader.gadget,
                                                 batchLoop: leader.batchLoop), thread, tgid: leader.tracee.pid)
        }
        return tracees
    }

    /// A thread with the image's id when it is free and the restorer may ask for it
    /// (clone3 set_tid: CAP_CHECKPOINT_RESTORE over the pid namespace, kept by the leader
    /// until credentials change); otherwise with a new id (the caller warns).
    func cloneThread(_ leader: RemoteSyscalls, _ thread: ThreadPlan) throws(RestoreError) -> pid_t {
        let at = leader.scratch + 3072
        var args = [UInt8](repeating: 0, count: 256)
        let n = options.pids == .new ? 0 : ckpt_remote_thread_clone3(&args, args.count, at, Int32(bitPattern: thread.tid))
        if n > 0 {
            try leader.tracee.write(Array(args.prefix(n)), at: at)
            do throws(RestoreError) {
                return pid_t(try leader.call("clone3 (thread \(thread.tid), same id)", Int32(CKPT_SYS_CLONE3), at,
                                             UInt64(ckpt_clone_args_size())))
            } catch let .remote(_, errno) where [.fileExists, .notPermitted, .noFunction, .invalidArgument].contains(errno) {
                // Taken, not allowed, or no clone3: a new id below, unless it must be this one.
                if options.pids == .same { throw Self.idRefused("thread \(thread.tid)", errno) }
            }
        } else if options.pids == .same {
            throw .unsupported(what: "thread \(thread.tid)", why: "this restorer cannot ask for its id (no clone3 arguments)")
        }
        return pid_t(try leader.call("clone (thread \(thread.tid))", Int32(CKPT_SYS_CLONE),
                                     UInt64(CKPT_CLONE_THREAD_FLAGS), 0, 0, 0, 0))
    }

    func setThreadPointers(_ remote: RemoteSyscalls, _ thread: ThreadPlan, tgid: pid_t) throws(RestoreError) {
        let who = "thread \(thread.tid)"
        typealias Call = RemoteSyscalls.Call
        var list: [Call] = []
        if let head = thread.robustList, head != 0 {
            list.append(Call("set_robust_list(\(hex(head))) for \(who)", Int32(CKPT_SYS_SET_ROBUST_LIST), head,
                             UInt64(CKPT_ROBUST_LIST_HEAD_SIZE)))
        }
        if let ctid = thread.clearChildTid, ctid != 0 {
            list.append(Call("set_tid_address(\(hex(ctid))) for \(who)", Int32(CKPT_SYS_SET_TID_ADDRESS), ctid))
        }
        if let r = thread.rseq {
            list.append(Call("rseq(\(hex(r.address)), \(r.length)) for \(who)", Int32(CKPT_SYS_RSEQ), r.address,
                             UInt64(r.length), 0, UInt64(r.signature)))
        }
        // In the same stop as the calls above, before the queued signals: none is
        // delivered before the thread's image mask is set, last (`queueSignals`).
        if let a = thread.altstack {
            var ss = [UInt8](repeating: 0, count: 64)
            let n = ckpt_remote_stack_t(&ss, ss.count, a.sp, a.size, Int32(bitPattern: a.flags))
            guard n > 0 else { throw .mismatch("stack_t does not fit 64 bytes") }
            list.append(Call("sigaltstack(\(hex(a.sp)), \(a.size)) for \(who)", Int32(CKPT_SYS_SIGALTSTACK),
                             pointingAt: Array(ss.prefix(n)), in: 0, 0, 0))
        }
        try remote.calls(list)
        if let q = thread.queue { try queueSignals(remote, q, process: false, tgid: tgid) }
    }

    /// Queued signals with their siginfo, oldest first, queued again from inside the thread:
    /// rt_tgsigqueueinfo to itself (its own queue) or, from the leader, rt_sigqueueinfo to
    /// its process (the shared queue). Sent to itself, the kernel lets the siginfo say any
    /// sender and si_code, as it was. All signals are blocked in the thread first (its
    /// image mask comes last, with PTRACE_SETSIGMASK), so none is delivered while the
    /// restorer still runs system calls in it.
    func queueSignals(_ remote: RemoteSyscalls, _ q: SignalQueue, process: Bool, tgid: pid_t) throws(RestoreError) {
        try remote.tracee.setSignalMask(UInt64.max)
        let at = remote.scratch + 3328 + 128
        for i in q.entries.indices {
            let sig = q.signal(i)
            guard sig > 0, sig <= 64, sig != SIGKILL, sig != SIGSTOP else { continue }
            try remote.tracee.write(q.entries[i], at: at)
            if process {
                try remote.call("rt_sigqueueinfo(signal \(sig)) for the process", Int32(CKPT_SYS_RT_SIGQUEUEINFO),
                                UInt64(remote.tracee.pid), UInt64(sig), at)
            } else {
                try remote.call("rt_tgsigqueueinfo(signal \(sig)) for thread \(remote.tracee.pid)", Int32(CKPT_SYS_RT_TGSIGQUEUEINFO),
                                UInt64(tgid), UInt64(remote.tracee.pid), UInt64(sig), at)
            }
        }
    }

    /// The image's resource limits, each set with prlimit(2) where the new process's
    /// differs (it inherited the restorer's).
    func restoreResourceLimits(_ pid: pid_t) throws(RestoreError) -> [String] {
        guard let limits = plan.resourceLimits else {
            return ["the image has no resource limits (an older module took it): the process has the restorer's"]
        }
        for (resource, limit) in limits.enumerated() {
            var now = ckpt_rlimit()
            if ckpt_prlimit(pid, Int32(resource), nil, &now) != 0 {
                // A resource this kernel does not know (an image of a newer one): EINVAL.
                if errno == EINVAL { continue }
                throw .system(call: "prlimit(\(pid), \(ResourceLimit.name(resource)))", errno: Errno(rawValue: errno))
            }
            if now.soft == limit.soft, now.hard == limit.hard { continue }
            var want = ckpt_rlimit(soft: limit.soft, hard: limit.hard)
            if ckpt_prlimit(pid, Int32(resource), &want, nil) != 0 {
                throw .system(call: "prlimit(\(pid), \(ResourceLimit.name(resource)), soft \(ResourceLimit.describe(limit.soft)), hard \(ResourceLimit.describe(limit.hard)))",
                              errno: Errno(rawValue: errno))
            }
        }
        return []
    }

    /// Signals that were pending but are not in a siginfo queue of the image (an image of
    /// an older module; a queue longer than `CKPT_SIGINFO_MAX`; a signal the kernel could
    /// not queue an entry for), sent again: each thread's own with tgkill, the process's
    /// with kill, after the masks are set (a blocked one stays pending, as it was). Only
    /// the set is known for these: the process sees the restorer as the sender.
    func raisePendingSignals(_ pid: pid_t, _ tracees: [Tracee]) throws(RestoreError) -> [String] {
        var sent: [String] = []
        func each(_ mask: UInt64, _ send: (Int32) -> Int32, _ whom: String) throws(RestoreError) {
            for sig in Int32(1)...64 where mask & (1 << UInt64(sig - 1)) != 0 && sig != SIGKILL && sig != SIGSTOP {
                if send(sig) != 0 { throw .system(call: "sending pending signal \(sig) to \(whom)", errno: Errno(rawValue: errno)) }
                sent.append("\(sig) (\(whom))")
            }
        }
        func queued(_ q: SignalQueue?) -> UInt64 {
            guard let q else { return 0 }
            return q.entries.indices.reduce(0) { m, i in
                let sig = q.signal(i)
                return sig >= 1 && sig <= 64 ? m | 1 << UInt64(sig - 1) : m
            }
        }
        var warnings: [String] = []
        for (t, thread) in zip(tracees, plan.threads) {
            try each((thread.pendingSignals ?? 0) & ~queued(thread.queue), { ckpt_tgkill(pid, t.pid, $0) }, "thread \(t.pid)")
            if let q = thread.queue, q.dropped > 0 {
                warnings.append("thread \(t.pid) had \(q.dropped) more queued signals than the image keeps (\(CKPT_SIGINFO_MAX))")
            }
        }
        try each((plan.sharedPending ?? 0) & ~queued(plan.sharedQueue), { kill(pid, $0) }, "process")
        if let q = plan.sharedQueue, q.dropped > 0 {
            warnings.append("the process had \(q.dropped) more queued signals than the image keeps (\(CKPT_SIGINFO_MAX))")
        }
        if !sent.isEmpty {
            warnings.append("pending signals sent again, without their original sender and siginfo: " + sent.joined(separator: ", "))
        }
        return warnings
    }

    /// A thread's FPU/SSE/AVX state and blocked signals. An XSAVE area this kernel's
    /// layout does not take (another CPU) falls back to its x87/SSE part.
    func restoreThreadState(_ tracee: Tracee, _ thread: ThreadPlan) throws(RestoreError) -> [String] {
        var warnings: [String] = []
        if let x = thread.xstate {
            let err = tracee.setRegset(note: Int32(CKPT_NT_X86_XSTATE), x.area)
            if err != 0 {
                try tracee.setFPRegisters(x.legacyArea)
                warnings.append("this CPU does not take the image's XSAVE area (\(x.area.count) bytes, xfeatures \(hex(x.xfeatures)): \(Errno(rawValue: err))): only its x87/SSE state was restored, AVX registers start zeroed")
            }
        } else {
            warnings.append("the image has no FPU state (an older module took it): x87/SSE/AVX registers start in their initial state")
        }
        try tracee.setSignalMask(thread.blockedSignals ?? 0)
        if thread.blockedSignals == nil { warnings.append("the image has no blocked-signal mask: none is blocked") }
        return warnings
    }

    func setCredentials(_ remote: RemoteSyscalls) throws(RestoreError) {
        let t = plan.task
        if !t.idsAreTheRestorers {
            try remote.call("setgroups(0)", Int32(CKPT_SYS_SETGROUPS), 0, 0)
            try remote.call("setresgid(\(t.gid), \(t.egid))", Int32(CKPT_SYS_SETRESGID), UInt64(t.gid), UInt64(t.egid), UInt64(t.egid))
            try remote.call("setresuid(\(t.uid), \(t.euid))", Int32(CKPT_SYS_SETRESUID), UInt64(t.uid), UInt64(t.euid), UInt64(t.euid))
        }
    }

    /// The address space's dumpable mode as the image has it (who may ptrace the process
    /// and read its /proc files): the stub, started by the restorer, is dumpable, and a
    /// change of ids (the fsuid in `ProcessFileAccess`, then setresuid) resets it to
    /// fs.suid_dumpable. prctl takes 0 or 1: the image's 2 (root only) becomes 0, which
    /// keeps out everyone 2 keeps out. An image of an older module says nothing: left as is.
    func restoreDumpable(_ remote: RemoteSyscalls) throws(RestoreError) {
        guard let mode = plan.mm.dumpable else { return }
        let set: UInt64 = mode == 1 ? 1 : 0
        try remote.call("prctl(PR_SET_DUMPABLE, \(set))", Int32(CKPT_SYS_PRCTL), UInt64(CKPT_PR_SET_DUMPABLE), set)
    }
}
