import ArgumentParser
import CkptImage
import CkptReplay
import CkptRestore
import CkptSystem
import CkptTransport

public struct RestoreCommand: ParsableCommand {
    /// Page data per restart request: 15 pages (see `run`).
    static let restartRequestData = 15 * 4096

    public static let configuration = CommandConfiguration(
        commandName: "restore",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Bring a checkpointed process back as a new process.",
        discussion: """
            For when the process (or the machine) is gone: a new process is created from the image and runs on, detached from ckpt (it is reparented to init when ckpt exits). The last line on stdout is `restored pid N`.

            How: the image is planned first, and anything this restorer cannot bring back is refused before a process exists, naming the fd or mapping (SysV shared memory segments, read-only shared memory with pages in the image, a memfd the process holds but does not map, device memory; TCP connections without --tcp-close, sockets other than Unix socketpairs between its own fds, named Unix listeners and bound Unix sockets, TCP and UDP; Unix connections to another process without --unix-close; a datagram socket whose named peer no longer answers; a path a live socket answers on; pipes and socketpairs shared with another process (those between the processes of a restored tree are restored); a named FIFO no longer on its path (the restore opens the FIFO there, it does not make one); an inotify watch on a file the process neither holds open nor maps; terminals without --shell-job or --inherit-fd; deleted or changed files; a root directory other than / unless you are root; another architecture). Then a one-page stub process is started and traced; every mapping is recreated at the image's address with its protection (files mapped by path at their offset, shared file mappings shared again, shared anonymous memory and memfds as one memfd per object with its seals, the vDSO placed where it was), the address-space fields set (brk, stack, arguments, environment, executable: PR_SET_MM_MAP), descriptors reopened by path at their positions (those named by --inherit-fd are this command's own instead), pipes and Unix socketpairs between its own fds made anew with the bytes and messages they held, named FIFOs opened again at their paths (never waiting for the other end; the bytes a read end held written back into an empty pipe), TCP listeners and UDP sockets made again bound, listening or connected where they were with their options (empty: what they held is lost, with a warning), named Unix listeners and bound Unix sockets bound to their names again (the socket file the original left taken over when nothing answers on it, with its mode and group when it had the process's owner), TCP connections with --tcp-close as sockets that are not connected, Unix connections to another process with --unix-close as socketpair ends whose peer is closed, datagram sockets connected to a named socket connected to that name again, inotify, eventfd, signalfd, timerfd and epoll descriptors made again, the working directory, umask and personality set, the root directory chrooted to, signal dispositions set, memory written (by ckpt with process_vm_writev, or with --memory-by kernel by the kernel's restart session, which checks every record against the new mappings), credentials and the dumpable mode set, the other threads created (with their old ids when free), and each thread's registers, FPU state, signal mask, alternate signal stack, rseq and robust-list registrations loaded; then the resource limits are set and the signals that were pending queued again with their siginfo (from an image without the queues, the set only, with a warning). See docs/restore.md for the state table.

            Runs as root or as the image's user (another user's image is refused). As root (or with capabilities) it uses only an image file owned by root or by you and writable by no one else, as the listener writes them: an image says whose process it was, and a file someone else wrote could claim anything (docs/restore.md, \"Who may restore what\"); the kernel lets only root or CAP_CHECKPOINT_RESTORE set the executable (PR_SET_MM_MAP) and ask for the image's pid, so a user restores its own process with that capability ambient (setpriv --inh-caps +checkpoint_restore --ambient-caps +checkpoint_restore), or is refused before anything starts. Restoring another user's process, every path the image names is opened with that user's rights (a file it held that it may not open, such as a log its service manager opened, only when it is still the very file: device and inode), so a path the user swapped for a symlink to a file only root may read is refused. The ckpt module is needed only with --memory-by kernel; by default ckpt writes the memory itself, with the access it has as the new process's tracer.

            Examples:
              ckpt restore /var/lib/ckpt/7.ckpt
              ckpt restore 7 --dir /var/lib/ckpt --shell-job    # it used this terminal
              ckpt restore /var/lib/ckpt/7.ckpt --stopped       # then: kill -CONT PID
              ckpt restore /var/lib/ckpt/7.ckpt --pid same      # its old pid, or fail
              ckpt restore /var/lib/ckpt/7.ckpt --tcp-close     # TCP connections closed
              ckpt restore /var/lib/ckpt/7.ckpt --unix-close    # Unix connections closed
              ckpt restore /var/lib/ckpt/7.ckpt --check         # would it? nothing started
              ckpt restore 7.ckpt --inherit-fd 1 | logger -t app     # stdout: a new pipe
              ckpt restore s3://bucket/host1/7.ckpt             # from an S3 store
              ckpt restore 7.ckpt 8.ckpt 9.ckpt                 # a tree (checkpoint --tree)
              ckpt restore /var/lib/ckpt/8.ckpt                 # of --pre-copy: 7.ckpt too

            Several images: the processes of one tree (`ckpt checkpoint --tree`), in any order. They must make one tree by their pids and parents (else refused); pipes between them are made once and every process gets its ends of them again, with the bytes they held. The root is made as one process is, then each other process as a fork of its parent (with its pid when free), so it is its parent's child again; a process that led its session or process group leads it again, one in a group another process of the tree led joins it again. One `restored IMAGE: pid N (was M), child of ...` line per process; the last line is `restored pid ROOT`. Unix socketpairs and connections between them likewise, with the messages queued in them, and open files they shared (an fd inherited across fork: one offset; opened with their user's rights, or, when they are processes of several users, only while the path still names the very file they held: otherwise reopened in each, warned). Zombies in the tree (children their parents had not waited for) are made again, each by its parent's fork, and exit as they did: the parent's wait finds them with their status (`restored IMAGE: zombie pid Z (was Z), child of pid P, exited with 5`); a zombie's image alone is refused. With --inherit-fd N, the root's fd N and every process's fd N that is the same open file (inherited across fork: a service's stdout into journald, shared by its workers) are this command's fd N; a process's fd N of another file is its own. Refused for a tree: a pipe or socket whose other end is a process outside it, and --parent (a tree's pre-copies are given beside its checkpoints). A failure kills every process made so far.

            An image of `ckpt checkpoint --pre-copy` holds the pages written after the pre-copy; the others are read from the pre-copy image (its crid is in the image header; `<crid>.ckpt` beside the image unless --parent names it), each pre-copy record checked as it is read. A pre-copy image alone is refused (memory only, read while the process ran); given beside the image that names it (as `ckpt checkpoint --pre-copy --wait` lists both), it is read as that image's parent, not restored as a process.

            Exit codes: 0 restored (with --check: restorable); 1 refused or failed (the message says which state, and why); 64 usage; 65 the image is damaged or truncated; 69 the ckpt module is not loaded (--memory-by kernel); 74 the file cannot be read.
            """)

    @Argument(help: ArgumentHelp("The image file, or a crid looked up in --dir; several: the images of one process tree (ckpt checkpoint --tree), restored as that tree.", valueName: "image"))
    var images: [String]

    @OptionGroup var location: ImageLocationOptions

    @Flag(help: "Leave the restored process stopped (SIGSTOP); continue it with kill -CONT.")
    var stopped = false

    @Flag(help: "Give the process this terminal for its terminal fds (as criu --shell-job); without it, terminal fds are refused and the process gets a session of its own.")
    var shellJob = false

    @Flag(help: "Bring TCP connections back closed (as criu --tcp-close): each a new socket that is not connected, which the program sees as a dropped connection (reads fail, poll says hang-up); without it a process holding a TCP connection is refused. Listeners and UDP sockets are restored either way.")
    var tcpClose = false

    @Flag(help: "Bring Unix connections to another process back with their peer closed (a server's accepted connections, a client's connection to a server): each one end of a new socketpair whose other end is closed, so the program reads what was queued for it, then end of file, as when the other process exits; without it such a process is refused. Datagram sockets connected to a named socket (a syslog client's /dev/log) are connected to that name again either way.")
    var unixClose = false

    @Option(name: .customLong("inherit-fd"),
            help: ArgumentHelp("Give the process this command's own fds of these numbers in place of what the image had there, whatever it was (a pipe or socket to another process, a file, a terminal), as criu --inherit-fd: e.g. 1,2 for a service whose stdout and stderr went to a log reader or journald, restored under a unit or supervisor that gave ckpt restore new ones. Each must be open here; nothing of the image's is planned or refused for them. For a tree: the root's fds, and each other process's fd of that number that is the same open file (inherited across fork).",
                               valueName: "fd,..."))
    var inheritFd = DescriptorList()

    @Flag(help: "Check only: read and plan the image, check your rights and this kernel, and say `restorable` or why not (exit 0 or 1); no process is started. It finds what the restore would refuse before starting one; what only the making finds (a name another process took since, a file changed in between) it cannot.")
    var check = false

    @OptionGroup var progress: ProgressOptions

    @Option(help: ArgumentHelp("The pre-copy image a `ckpt checkpoint --pre-copy` image was taken after (default: <its crid>.ckpt beside the image, or under the same store prefix).", valueName: "image"))
    var parent: String?

    @Option(help: ArgumentHelp("Which pid and thread ids the process gets: any (the image's where free, else new ones with a warning), same (the image's or no restore, as criu restore; the process holding a taken id is not touched), new (new ones even when the image's are free: a second copy beside the first).",
                               valueName: "any|same|new"))
    var pid: Restorer.PidPolicy = .any

    @Option(help: ArgumentHelp("Who writes the image's pages into the new process. process (the default): ckpt itself, with process_vm_writev from the mapped image on one thread per CPU it may run on, up to 4 (read-only mappings, and everything on a kernel built without process_vm_writev, through /proc/PID/mem), one copy per byte as CRIU's restorer; each pages record is checked to lie in its vma before it is written, and the trailer's page count when it is reached. kernel: the ckpt module's restart session, which checks every record against the new process's mappings as it writes it and compares the whole stream's checksum at the end; about 2.2x the time (three copies per byte: into a zeroed request, into the session writer's queue, into the page; and a second CRC pass).",
                               valueName: "kernel|process"))
    var memoryBy: Restorer.MemoryPath = .process

    @Flag(help: "Begin each progress line on stderr with the wall-clock time it was written (seconds since the epoch, to the microsecond), the first when the command starts reading (`reading IMAGE`) and the last when it is done (`done`), to see where a restore's time goes.")
    var timings = false

    @Flag(inversion: .prefixedNo,
          help: "Verify the whole image (file checksum, index, trailer) in a separate pass before starting. Without it each record's checksum is checked as its pages are written, and the structure and the trailer's counts as they are reached; a damaged record then fails the restore midway and the half-made process is killed (exit 65 either way).")
    var verify = false

    public init() {}

    public func run() throws { try RestoreRun(self).run() }
}

/// What `ckpt restore` does with its options: plain values, so that `PlainArguments` can
/// make one without ArgumentParser's property wrappers (`RestoreCommand` makes it from its
/// parse).
struct RestoreRun: Equatable {
    /// One image, or the images of one process tree (the root first or not).
    var images: [String]
    var dir: String
    var stopped: Bool
    var shellJob: Bool
    var tcpClose: Bool
    var unixClose: Bool
    var inheritFDs: [Int32]
    var check: Bool
    var progress: ProgressOptions.Mode
    var parent: String?
    var pid: Restorer.PidPolicy
    var memoryBy: Restorer.MemoryPath
    var verify: Bool
    var timings: Bool
}

extension RestoreRun {
    /// From ArgumentParser's parse (an extension: the struct keeps its memberwise init).
    init(_ c: RestoreCommand) {
        self.init(images: c.images, dir: c.location.dir, stopped: c.stopped, shellJob: c.shellJob,
                  tcpClose: c.tcpClose, unixClose: c.unixClose, inheritFDs: c.inheritFd.fds, check: c.check, progress: c.progress.progress, parent: c.parent, pid: c.pid, memoryBy: c.memoryBy, verify: c.verify,
                  timings: c.timings)
    }

    func run() throws {
        let command = "restore"
        let stamp = StepTimes(enabled: timings)
        stamp.mark("reading \(images.joined(separator: " "))")
        // First, before this command opens anything: an fd closed here would be the number
        // its next open gets, and the process would inherit that file instead.
        if let why = DescriptorList(inheritFDs).prepareForInheritance() { throw failure(command, why, CkptExit.usage) }
        var opened: [(path: String, reader: ImageReader, parent: ImageReader?)] = []
        if images.count > 1 {
            if parent != nil { throw failure(command, "--parent names one pre-copy: give it with one image", CkptExit.usage) }
            for argument in images { opened.append(try open(argument)) }
            opened = try withoutPreCopies(opened)
            if opened.count > 1 {
                try runTree(opened, stamp)
                return
            }
        } else {
            opened = [try open(images[0])]
        }
        let (image, reader, parentReader) = opened[0]
        let plan: RestorePlan
        do throws(RestoreError) {
            plan = try RestorePlan(reader, shellJob: shellJob, tcpClose: tcpClose, unixClose: unixClose, inheritedFDs: Set(inheritFDs))
        } catch {
            throw failure(command, "\(image): refused: \(error)", CkptExit.failed)
        }
        try checkHere(plan, image)
        if check {
            try checkIDsAndModule([plan], [image])
            emit("\(image): restorable: " + Self.describe(plan))
            stamp.mark("done")
            return
        }
        let restorer = Restorer(plan: plan, reader: reader, replayer: try replayer(),
                                options: options, parent: parentReader)
        let bar = ProgressBar(label: "writing memory", enabled: ProgressOptions.enabled(progress))
        do throws(RestoreError) {
            let r = try restorer.run(step: { bar.finish(); writeStderr("ckpt restore: \(stamp.prefix)\($0)\n") },
                                     progress: { bar.update($0, $1) })
            bar.finish()
            for w in r.warnings { writeStderr("ckpt restore: warning: \(w)\n") }
            emit("restored \(image): \(plan.mappings.count) mappings, \(plan.descriptors.count) fds, "
                 + "\(r.memoryBytes) bytes written by \(r.memoryCall)")
            emit("restored pid \(r.pid)")
            stamp.mark("done")
        } catch {
            bar.finish()
            if case .image = error { throw failure(command, "\(image): damaged: \(error)", CkptExit.dataError) }
            throw failure(command, "\(image): \(error)", CkptExit.failed)
        }
    }

    var options: Restorer.Options {
        .init(leaveStopped: stopped, shellJob: shellJob, pids: pid, memory: memoryBy)
    }

    static func describe(_ plan: RestorePlan) -> String {
        let inherited = plan.descriptors.compactMap { if case let .inherited(fd) = $0 { fd } else { nil } }
        let mine = inherited.isEmpty ? "" : " (\(inherited.sorted().map(String.init).joined(separator: ",")): --inherit-fd)"
        return "\(plan.threads.count) thread\(plan.threads.count == 1 ? "" : "s"), \(plan.mappings.count) mappings, \(plan.descriptors.count) fds" + mine
    }

    /// The image at `argument` (a path, a crid in --dir, a store URL): trusted (`checkTrusted`),
    /// verified first with --verify, read by its index; and the pre-copy it names.
    func open(_ argument: String) throws -> (path: String, reader: ImageReader, parent: ImageReader?) {
        let command = "restore"
        let image = try ImageLocationOptions.path(argument, dir: dir, command: command)
        let bytes = try openImageBytes(image, command: command)
        try RestoreCommand.checkTrusted(bytes, path: image, what: "image", command: command)
        if verify {
            let bar = ProgressBar(label: "verifying", enabled: ProgressOptions.enabled(progress))
            defer { bar.finish() }
            do throws(ImageError) { _ = try verifyImage(source: bytes) { bar.update($0, $1) } } catch {
                bar.finish()
                throw failure(command, "\(image): FAILED at \(error.location): \(error.reason)", error.exitCode)
            }
        }
        let reader: ImageReader
        do throws(ImageError) { reader = try ImageReader(source: bytes, mapped: true) } catch {
            throw failure(command, "\(image): \(error.reason)", error.exitCode)
        }
        return (image, reader, try openParent(of: reader, image: image, command: "restore"))
    }

    /// The restorer's rights and this kernel, for one planned image.
    func checkHere(_ plan: RestorePlan, _ image: String) throws {
        let kernelWarning: String?
        do throws(RestoreError) {
            try Restorer.checkPermitted(plan)
            kernelWarning = try plan.checkKernel(release: Syscall.kernelRelease())
        } catch {
            throw failure("restore", "\(image): refused: \(error)", CkptExit.failed)
        }
        if let kernelWarning { writeStderr("ckpt restore: warning: \(kernelWarning)\n") }
    }

    /// --check's own questions: the ids free (--pid same), the module loaded (--memory-by kernel).
    func checkIDsAndModule(_ plans: [RestorePlan], _ images: [String]) throws {
        if pid == .same {
            for (plan, image) in zip(plans, images) {
                if let refusal = Restorer.takenIDRefusal(plan) {
                    throw failure("restore", "\(image): refused: \(refusal) (--pid same)", CkptExit.failed)
                }
            }
        }
        if memoryBy == .kernel { _ = try openFamily("restore") }
    }

    /// With --memory-by kernel, the kernel's restart session's client; nil otherwise.
    func replayer() throws -> RestartReplayer? {
        guard memoryBy == .kernel else { return nil }
        let client = try openFamily("restore")
        let link: GenlRestartLink
        do throws(TransportError) { link = try GenlRestartLink(client: client, acksInFlight: 32) } catch {
            throw failure("restore", "cannot size the netlink socket's buffers: \(error)", CkptExit.ioError)
        }
        // 15 pages per request, not CKPT_DATA_MAX: netlink_sendmsg copies each request into
        // one kvmalloc'd buffer, which then fits 64 KiB instead of taking 128 KiB that the page
        // allocator zeroes whole (init_on_alloc); docs/benchmarks.md, "Fragment sizes".
        return RestartReplayer(link: link, window: 32, maxData: RestoreCommand.restartRequestData,
                               copiesPrivateFilePages: true)
    }

    /// Several images: one process tree (`ckpt checkpoint --tree`), planned together
    /// (`TreePlan`: one root, pipes between them) and made by forks from its root.
    func runTree(_ opened: [(path: String, reader: ImageReader, parent: ImageReader?)], _ stamp: StepTimes) throws {
        let command = "restore"
        var facts: [TreeFacts] = []
        for o in opened {
            do throws(RestoreError) { facts.append(try RestorePlan.treeFacts(o.reader)) } catch {
                throw failure(command, "\(o.path): damaged: \(error)", CkptExit.dataError)
            }
        }
        // The tree's shape first: images that are not one tree are refused as such, not for
        // a pipe whose other end is in the image left out.
        let root: TreeFacts
        do throws(RestoreError) { root = facts[try TreePlan.shape(facts.map { ($0.pid, $0.ppid) }).order[0]] } catch {
            throw failure(command, "refused: \(error)", CkptExit.failed)
        }
        // --inherit-fd: the root's fds of those numbers, and every process's fd of the same
        // open file at the same number (inherited across fork), are this command's; what
        // they held joins no pipe, socket or file shared in the tree.
        let inherited = facts.map { $0.inherited(inheritFDs, root: root) }
        facts = zip(facts, inherited).map { $0.without(fds: $1) }
        let shared = TreePlan.sharedPipeNames(facts.map(\.pipeNames))
        let sockets = TreePlan.sharedSocketInodes(facts)
        let files = TreePlan.sharedFileIDs(facts)
        for path in TreePlan.reopenedApart(facts, shared: files) {
            report(command, "warning: \(path), an open file processes of more than one user shared (an fd inherited across fork), "
                   + "is not the file they held now (another device or inode, or the image does not say which): it is reopened in "
                   + "each of them, with its own user's "
                   + "rights, each at its own offset")
        }
        var plans: [RestorePlan] = [], live: [Int] = []
        for (i, o) in opened.enumerated() where facts[i].zombie == nil {
            live.append(i)
            do throws(RestoreError) {
                plans.append(try RestorePlan(o.reader, shellJob: shellJob, tcpClose: tcpClose, unixClose: unixClose,
                                             inheritedFDs: inherited[i], sharedPipes: shared, sharedSockets: sockets, sharedFiles: files))
            } catch {
                throw failure(command, "\(o.path): refused: \(error)", CkptExit.failed)
            }
        }
        let tree: TreePlan
        let zombieImages = opened.indices.filter { facts[$0].zombie != nil }
        do throws(RestoreError) { tree = try TreePlan(plans, zombies: zombieImages.compactMap { facts[$0].zombie }) } catch {
            throw failure(command, "refused: \(error)", CkptExit.failed)
        }
        let paths = tree.order.map { opened[live[$0]].path }
        for (plan, path) in zip(tree.plans, paths) { try checkHere(plan, path) }
        if check {
            try checkIDsAndModule(tree.plans, paths)
            for (plan, path) in zip(tree.plans, paths) { emit("\(path): restorable: " + Self.describe(plan)) }
            for (z, i) in zombieImages.enumerated() {
                emit("\(opened[i].path): restorable: a zombie (\(tree.zombies[z].status)), child of pid \(tree.zombies[z].ppid)")
            }
            let zombies = tree.zombies.isEmpty ? "" : " and \(tree.zombies.count) zombie\(tree.zombies.count == 1 ? "" : "s")"
            let files = tree.files.isEmpty ? "" : ", \(tree.files.count) open file\(tree.files.count == 1 ? "" : "s") they share"
            emit("tree of \(tree.plans.count) processes (root pid \(tree.plans[0].task.tgid))\(zombies), \(tree.pipes.count) pipe\(tree.pipes.count == 1 ? "" : "s") "
                 + "and \(tree.sockets.count) socketpair\(tree.sockets.count == 1 ? "" : "s") between them\(files): restorable")
            stamp.mark("done")
            return
        }
        let restorer = TreeRestorer(tree: tree, readers: tree.order.map { opened[live[$0]].reader },
                                    parents: tree.order.map { opened[live[$0]].parent }, replayer: try replayer(), options: options)
        let bar = ProgressBar(label: "writing memory", enabled: ProgressOptions.enabled(progress))
        let made: TreeRestorer.Made
        do throws(RestoreError) {
            made = try restorer.run(step: { i, what in
                bar.finish()
                writeStderr("ckpt restore: \(stamp.prefix)pid \(tree.plans[i].task.tgid): \(what)\n")
            }, progress: { bar.update($0, $1) })
            bar.finish()
        } catch {
            bar.finish()
            if case .image = error { throw failure(command, "damaged: \(error)", CkptExit.dataError) }
            throw failure(command, "\(error)", CkptExit.failed)
        }
        let results = made.processes
        for (i, r) in results.enumerated() {
            let plan = tree.plans[i]
            for w in r.warnings { writeStderr("ckpt restore: warning: pid \(plan.task.tgid): \(w)\n") }
            let parent = tree.parents[i].map { "pid \(results[$0].pid)" } ?? "ckpt restore"
            emit("restored \(paths[i]): pid \(r.pid) (was \(plan.task.tgid)), child of \(parent), \(plan.mappings.count) mappings, "
                 + "\(plan.descriptors.count) fds, \(r.memoryBytes) bytes written by \(r.memoryCall)")
        }
        for (z, i) in zombieImages.enumerated() {
            let zombie = tree.zombies[z]
            emit("restored \(opened[i].path): zombie pid \(made.zombies[z]) (was \(zombie.pid)), child of pid "
                 + "\(results[tree.zombieParents[z]].pid), \(zombie.status)")
        }
        emit("restored pid \(results[0].pid)")
        stamp.mark("done")
    }
}

extension RestoreRun {
    /// The images given without the pre-copies among them (`ckpt checkpoint --pre-copy
    /// --wait` prints both kinds of `image` line): a pre-copy another image names as its
    /// parent is read as that parent; one no image names is refused as one alone is.
    func withoutPreCopies(_ opened: [(path: String, reader: ImageReader, parent: ImageReader?)]) throws
        -> [(path: String, reader: ImageReader, parent: ImageReader?)] {
        let parents = Set(opened.compactMap { $0.parent?.header.crid })
        var kept: [(path: String, reader: ImageReader, parent: ImageReader?)] = []
        for o in opened {
            let preCopy: Bool
            do throws(ImageError) { preCopy = try o.reader.source().isPreCopy } catch {
                throw failure("restore", "\(o.path): \(error.reason)", error.exitCode)
            }
            guard preCopy else { kept.append(o); continue }
            guard parents.contains(o.reader.header.crid) else {
                throw failure("restore", "\(o.path): refused: a pre-copy holds memory only, read while the process ran: give the "
                              + "checkpoint taken after it (the image whose header names crid \(o.reader.header.crid) as its parent)",
                              CkptExit.failed)
            }
        }
        return kept
    }
}

extension RestoreCommand {
    /// A privileged restore uses only image files nobody else could have written
    /// (`ImageTrust`); object-store images have no owner and are not asked.
    static func checkTrusted(_ bytes: any ImageByteSource, path: String, what: String, command: String) throws {
        guard let local = bytes as? LocalImageBytes, let why = ImageTrust.refusal(openedFile: local.descriptor) else { return }
        throw failure(command, "\(what) \(path): refused: \(why)", CkptExit.failed)
    }
}

extension Restorer.PidPolicy: ExpressibleByArgument {}
extension Restorer.MemoryPath: ExpressibleByArgument {}

extension RestoreRun {
    /// The pre-copy an image names as its parent (header parent-crid), opened from --parent
    /// or from `<crid>.ckpt` beside the image; nil for an image without one. The parent must
    /// be that crid's pre-copy: its file header's crid and its header's pre-copy flag.
    func openParent(of reader: ImageReader, image: String, command: String) throws -> ImageReader? {
        let source: ImageSource
        do throws(ImageError) { source = try reader.source() } catch {
            throw failure(command, "\(image): \(error.reason)", error.exitCode)
        }
        guard let crid = source.parentCrid else {
            if let parent { throw failure(command, "--parent \(parent): \(image) was not taken after a pre-copy", CkptExit.usage) }
            return nil
        }
        let path = parent ?? RestoreCommand.sibling(of: image, named: "\(crid).ckpt")
        let bytes: any ImageByteSource
        switch openImageBytes(path) {
        case let .success(b): bytes = b
        case let .failure(f):
            throw failure(command, "\(image) was taken after the pre-copy crid \(crid), which holds part of its memory; "
                          + "its parent image \(path) cannot be read (\(f.message))"
                          + (parent == nil ? ": name it with --parent" : ""), f.code)
        }
        try RestoreCommand.checkTrusted(bytes, path: path, what: "parent image", command: command)
        let parentReader: ImageReader
        let parentSource: ImageSource
        do throws(ImageError) {
            parentReader = try ImageReader(source: bytes, mapped: true)
            parentSource = try parentReader.source()
        } catch {
            throw failure(command, "parent image \(path): \(error.reason)", error.exitCode)
        }
        guard parentReader.header.crid == crid, parentSource.isPreCopy else {
            throw failure(command, "parent image \(path): crid \(parentReader.header.crid)\(parentSource.isPreCopy ? "" : ", not a pre-copy"); "
                          + "\(image) was taken after the pre-copy crid \(crid)", CkptExit.failed)
        }
        return parentReader
    }
}

extension RestoreCommand {
    /// `name` in the directory (or store prefix) of `image`.
    static func sibling(of image: String, named name: String) -> String {
        guard let slash = image.lastIndex(of: "/") else { return name }
        return String(image[...slash]) + name
    }
}
