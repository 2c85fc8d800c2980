#if canImport(Glibc)
import Glibc
#endif
import CkptSystem
import ArgumentParser
import CCkptUAPI
import CkptProtocol
import CkptReplay
import CkptTransport

/// `ckpt checkpoint PID`: asks the kernel (`CKPT_CMD_CHECKPOINT`) to stream a checkpoint of
/// PID to the registered listener, prints the crid and the stream's totals, and with
/// `--wait DIR` waits until the listener has published the image (or failed it).
public struct CheckpointCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        _superCommandName: Ckpt.name,  // Ckpt.main parses it directly: see there
        abstract: "Checkpoint a process: the kernel streams it to the running `ckpt listen`.",
        discussion: """
            The kernel admits the request (permission, target, sink) and answers with the stream's crid; it then reads the task and streams its records to the capture sink (`ckpt listen`, which must be running in this network namespace) and tells this command how the stream ended (CKPT_CMD_CHECKPOINT_DONE). The first line of output is `crid N records R bytes B checksum 0xC`, with --stop followed by `frozen-ms F`: how long the kernel kept the process stopped, its SIGSTOP to its SIGCONT (none from a module before session 40, or for a process stopped before the command); a stream the kernel aborted (the task exited or exec'd, the sink stalled or went away) exits 1 with the reason. Killing this command mid-stream aborts the stream.

            The task must be stopped, or pass --stop: the kernel then stops it (SIGSTOP) for the checkpoint and resumes it afterwards on every path.

            --hold (with --stop) resumes the process as soon as the kernel has read it, instead of when the listener has received all of it: the messages still on their way wait in kernel memory, charged to this command's memory cgroup, and reach the listener in order while the process runs. Its freeze is then the copy of its memory, not the listener's reading and writing of it. All holding checkpoints together hold at most the module's hold_total_mib (/sys/module/ckpt/parameters, 512 MiB by default), and a stream holds only while this command's memory cgroup keeps room for a stream that does not hold; past either, the rest of the stream waits for the listener as without --hold (the process then stays stopped until it has been read). The producer runs at nice -20 when this command has CAP_SYS_NICE. The kernel allocates the pages it will copy into before it stops the process (about the size of its memory, within the same bounds), so the process keeps running a little longer before its freeze, and what the copy did not use is freed once it has been read. A module before session 38 refuses it.

            Examples:
              ckpt checkpoint 1234 --stop                     # prints `crid 7 records 9
                                                        # ... frozen-ms 41`
              ckpt checkpoint 1234 --stop --wait /var/lib/ckpt    # ... and `image PATH`
              ckpt checkpoint 1234 --stop --hold --wait /var/lib/ckpt  # resumed once read,
                                                        # while the listener still writes
              kill -STOP 1234; ckpt checkpoint 1234; kill -CONT 1234
              ckpt checkpoint 1234 --pre-copy --wait /var/lib/ckpt  # stopped only for what
                                                        # it writes meanwhile
              ckpt checkpoint 1234 --tree --stop --wait /var/lib/ckpt   # 1234 and its
                                                        # descendants: an image each
              ckpt checkpoint 1234 --tree --pre-copy --wait /var/lib/ckpt   # the same,
                                                        # stopped only for what they write

            --tree checkpoints the process and every descendant, each into its own image (one `crid N ... pid P` line each, the process first, each parent before its children), while the whole tree is stopped: with --stop each is stopped (SIGSTOP) until no new process appears, and all are continued after the last stream (then `tree of N processes frozen-ms F`: the first SIGSTOP to the last SIGCONT). A zombie in the tree (a child its parent has not waited for) gets an image of its ids and exit status (`crid N ... pid P zombie`; a module before session 36 refuses it), and a restore makes it again for its parent to wait for; a zombie PID is refused. `ckpt restore` of all the images makes the tree again: each process forked by its parent, the pipes and Unix sockets between them shared again. With --pre-copy, each process of the running tree is pre-copied first (`pre-copy crid P ... pid X` lines), then the tree is stopped and each checkpoint streams only what that process wrote since (`crid N ... parent P dirty-ranges R pid X`), then `tree of N processes frozen-ms F`; restore the checkpoints (not the pre-copies, which are read beside them). With --hold the tree is continued once the kernel has read the last process, and the `crid` lines follow the `tree of` line as the streams end; with --stop --hold the kernel allocates the memory each process's stream holds before the tree is stopped (`tree of N processes reserved-pages P`), and reads each process only once the whole tree is stopped.

            A `ckpt listen` process is refused at once: the kernel would stream into the listener it stopped.

            --pre-copy keeps the process running while most of its memory is copied, and stops it only for what it wrote meanwhile (CRIU's pre-dump, in one command): the soft-dirty bits are reset (/proc/PID/clear_refs), a pre-copy of the running process's memory is streamed (image 1, memory only), the process is stopped (SIGSTOP), the pages it wrote since are found (the kernel's PAGEMAP_SCAN on Linux 6.8 and later, else /proc/PID/pagemap read a page at a time), and the checkpoint proper is streamed (image 2): its written pages as data, the others as references to image 1; then the process continues. Output: `pre-copy crid P ...`, then `crid N ... parent P dirty-ranges R frozen-ms F` (F: SIGSTOP to SIGCONT, as this command saw it; with --hold the SIGCONT comes once the kernel has read the final copy). Restore image 2: `ckpt restore` reads the pages it lacks from image 1 (P.ckpt beside it, or --parent). Needs write access to /proc/PID/clear_refs (root) and a kernel with soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY).

            Exit codes: 0 checkpointed (and with --wait, the image is published); 1 the kernel refused (no such pid, not permitted, not stopped, no listener) or the pid is a listener, the capture failed (its reason is printed) or --wait timed out; 64 usage; 69 the ckpt module is not loaded; 74 netlink failed.
            """)

    @Argument(help: "The process to checkpoint (in this pid namespace).")
    var pid: Int32

    @Flag(help: "Stop the process for the checkpoint and resume it afterwards (else it must already be stopped).")
    var stop = false

    @Flag(help: "End the freeze once the kernel has read the process (with --stop; with --pre-copy, of its final copy; with --tree, of the whole tree), while its stream still drains to the listener from kernel memory (charged to this command; at most the module's hold_total_mib for all).")
    var hold = false

    @Flag(help: "Copy the memory while the process runs, then stop it only for the pages it wrote meanwhile (two images; the second names the first as its parent).")
    var preCopy = false

    @Flag(help: "The process and all its descendants (each a child, or a child's child, ...): one image each, taken while the whole tree is stopped; restore them together with `ckpt restore IMAGE...`.")
    var tree = false

    @Option(help: ArgumentHelp("Give up when the listener does not drain the stream for this long (the kernel's default when absent).", valueName: "ms"))
    var timeoutMs: UInt32?

    @Option(help: ArgumentHelp("Wait until the listener writing to DIR has published the image (DIR/<crid>.ckpt) or failed it.", valueName: "dir"))
    var wait: String?

    @Option(help: ArgumentHelp("With --wait: seconds to wait for the image.", valueName: "seconds"))
    var waitTimeout: Double = 30

    public init() {}

    public func validate() throws {
        if let why = CheckpointRun(self).invalid { throw ValidationError(why) }
    }

    public func run() throws { try CheckpointRun(self).run() }

    /// `crid N records R bytes B checksum C`, then `frozen-ms F` when the kernel stopped the
    /// process (--stop, --hold): from its SIGSTOP to its SIGCONT, as the kernel measured it.
    static func line(_ reply: CheckpointReply) -> String {
        "crid \(reply.crid) records \(reply.summary.records) bytes \(reply.summary.bytes) checksum \(Format.checksum(reply.summary.checksum))"
            + (reply.frozenNs.map { " frozen-ms \($0 / 1_000_000)" } ?? "")
    }

    /// The kernel's refusal in words an operator can act on, then its extack text as
    /// `Error: <text>` (`KernelRefusal`).
    static func explain(_ error: TransportError, pid: Int32, stop: Bool, hold: Bool = false) -> String {
        guard case let .kernel(errno, message, _, _) = error else { return "\(error)" }
        // The flags policy's refusal of a bit it does not know (lib/nlattr.c).
        if hold, errno == .invalidArgument, message?.contains("reserved bit set") == true {
            return KernelRefusal.format("the loaded ckpt module does not know --hold (a module before session 38): load the current one, or drop --hold", extack: message)
        }
        // A module before session 42 holds only for a process it stops itself.
        if hold, errno == .invalidArgument, message?.contains("set stop too") == true {
            return KernelRefusal.format("the loaded ckpt module takes --hold only with --stop on one process, not with --tree or "
                                        + "--pre-copy (a module before session 42): load the current one, or drop --hold", extack: message)
        }
        if let text = KernelRefusal.explain(errno, extack: message, pid: pid, action: .checkpoint, stopRequested: stop) {
            return KernelRefusal.format(text, extack: message)
        }
        let text: String = switch errno {
        case .socketNotConnected: "no listener registered: start `ckpt listen` first"
        case .timedOut: "the stream did not end within its timeout (--timeout-ms); it was aborted"
        case .deadlock: "pid \(pid) is the listener's own process: its stream could never drain"
        case .resourceTemporarilyUnavailable:
            "too many checkpoints are running (module parameters max_streams, user_streams); retry later"
        case .brokenPipe: "the listener went away mid-stream; the stream was aborted"
        default: "the kernel refused the checkpoint (\(errno.shortName))"
        }
        return KernelRefusal.format(text, extack: message)
    }
}

/// What `ckpt checkpoint` does with its options: plain values, so that `PlainArguments` can
/// make one without ArgumentParser's property wrappers (`CheckpointCommand` makes it from
/// its parse).
struct CheckpointRun: Equatable {
    var pid: Int32
    var stop: Bool
    var preCopy: Bool
    var timeoutMs: UInt32?
    var wait: String?
    var waitTimeout: Double
    var tree = false
    var hold = false

    /// Why these options cannot run together (the command's `validate()` says it as a usage
    /// error), or nil.
    var invalid: String? {
        if pid <= 0 { return "PID must be a positive process id" }
        if let timeoutMs, timeoutMs == 0 { return "--timeout-ms must be positive" }
        if !(waitTimeout > 0) { return "--wait-timeout must be positive" }
        if preCopy && stop { return "--pre-copy stops the process itself (for the final copy only): drop --stop" }
        if hold && !stop && !preCopy {
            return "--hold ends a freeze this command asks for as soon as the kernel has read the process: add --stop (or --pre-copy)"
        }
        return nil
    }
}

extension CheckpointRun {
    /// From ArgumentParser's parse (an extension: the struct keeps its memberwise init).
    init(_ c: CheckpointCommand) {
        self.init(pid: c.pid, stop: c.stop, preCopy: c.preCopy, timeoutMs: c.timeoutMs, wait: c.wait,
                  waitTimeout: c.waitTimeout, tree: c.tree, hold: c.hold)
    }

    func run() throws {
        let command = "checkpoint"
        // Watching starts before the request: the image may come and go before a first look.
        var watch: PublishedImageWatch? = nil
        if let dir = wait {
            do throws(SystemError) {
                watch = try PublishedImageWatch(directory: dir)
            } catch {
                throw failure(command, "--wait \(dir): \(error)", CkptExit.ioError)
            }
            if let why = watch?.watchError {
                report(command, "warning: cannot watch \(dir) (\(why)): an image a --store listener removes "
                       + "before the next look (every 50 ms) would be missed")
            }
        }
        if let why = SinkGuard.refusal(pid: pid, waitDirectory: wait) { throw failure(command, why, CkptExit.failed) }
        let client = try openFamily(command)
        if tree {
            try runTree(client, watch: watch)
            return
        }
        if preCopy {
            try runPreCopy(client, watch: watch)
            return
        }
        var flags = stop ? UInt32(CKPT_CHECKPOINT_FLAGS_STOP.rawValue) : 0
        if hold { flags |= UInt32(CKPT_CHECKPOINT_FLAGS_HOLD.rawValue) }
        let reply = try request(client, flags: flags)
        emit(CheckpointCommand.line(reply))
        if let watch { try waitForImage(watch, crid: reply.crid) }
    }

    func request(_ client: GenlClient, flags: UInt32, parent: PreCopyParent? = nil, pid: Int32? = nil) throws -> CheckpointReply {
        let pid = pid ?? self.pid
        return try finish(client, begin(client, flags: flags, parent: parent, pid: pid), pid: pid)
    }

    /// The request admitted (its crid known); its stream runs on in the kernel.
    func begin(_ client: GenlClient, flags: UInt32, parent: PreCopyParent? = nil, pid: Int32) throws -> GenlClient.AdmittedCheckpoint {
        do throws(TransportError) {
            return try client.beginCheckpoint(pid: UInt32(pid), flags: flags, timeoutMs: timeoutMs ?? 0, parent: parent)
        } catch {
            throw checkpointFailure(error, pid: pid)
        }
    }

    /// With --hold, for a process this command stopped: returns once the kernel has read it
    /// (checkpoint-read), or its stream ended first (a module or a setting that does not hold).
    func awaitRead(_ client: GenlClient, _ started: GenlClient.AdmittedCheckpoint, pid: Int32) throws {
        do throws(TransportError) {
            _ = try client.awaitCheckpointRead(started)
        } catch {
            throw checkpointFailure(error, pid: pid)
        }
    }

    /// The stream's end: its counts, or the kernel's reason it failed.
    func finish(_ client: GenlClient, _ started: GenlClient.AdmittedCheckpoint, pid: Int32) throws -> CheckpointReply {
        do throws(TransportError) {
            return try client.awaitCheckpointDone(started)
        } catch {
            throw checkpointFailure(error, pid: pid)
        }
    }

    func checkpointFailure(_ error: TransportError, pid: Int32) -> Error {
        failure("checkpoint", CheckpointCommand.explain(error, pid: pid, stop: stop, hold: hold),
                error.errno == nil ? CkptExit.ioError : CkptExit.failed)
    }

    /// The hold flag when --hold asks for it: the kernel keeps the rest of the stream in its
    /// memory once it has read the process, which this command then continues.
    var holdFlag: UInt32 { hold ? UInt32(CKPT_CHECKPOINT_FLAGS_HOLD.rawValue) : 0 }

    /// `--pre-copy`: reset the soft-dirty bits, stream a pre-copy of the running process, stop
    /// it, read what it wrote since, stream the checkpoint with those ranges, resume it.
    private func runPreCopy(_ client: GenlClient, watch: PublishedImageWatch?) throws {
        let command = "checkpoint"
        let scan = SoftDirtyScan(pid: pid)
        let tracked: Bool
        do throws(SoftDirtyScan.Failure) {
            tracked = try SoftDirtyScan.kernelTracksWrites()
            if tracked { try scan.reset() }
        } catch {
            throw failure(command, "pid \(pid): \(error)", CkptExit.failed)
        }
        guard tracked else {
            throw failure(command, "this kernel does not track written pages (soft-dirty bits, CONFIG_MEM_SOFT_DIRTY): "
                          + "--pre-copy cannot tell what changed; checkpoint with --stop instead", CkptExit.failed)
        }
        let first = try request(client, flags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue))
        emit("pre-copy " + CheckpointCommand.line(first))
        let stopped = ProcessStop(pid: pid)
        let frozenAt = monotonicNanoseconds()
        let wasStopped = stopped.isStopped()
        // The process is ours to resume from here: a ^C or a TERM waits until it is (the
        // final stream is bounded by its timeout), then takes effect.
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&held, sig) }
        pthread_sigmask(SIG_BLOCK, &held, &previous)
        if !wasStopped { kill(pid, SIGSTOP) }
        var resumed = wasStopped
        func resume() {
            if !resumed { kill(pid, SIGCONT); resumed = true }
        }
        defer {
            resume()
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        guard stopped.waitStopped(timeoutSeconds: 2) else {
            throw failure(command, "pid \(pid) did not stop within 2 s of SIGSTOP (traced, or exiting?)", CkptExit.failed)
        }
        let ranges: [Range<UInt64>]
        do throws(SoftDirtyScan.Failure) { ranges = try scan.scan() } catch {
            throw failure(command, "pid \(pid): \(error)", CkptExit.failed)
        }
        let started = try begin(client, flags: holdFlag, parent: PreCopyParent(crid: first.crid, ranges: ranges), pid: pid)
        // With --hold the process goes on once the kernel has read it, before the listener
        // has all of its stream.
        let reply: CheckpointReply
        let frozenMs: UInt64
        if hold {
            try awaitRead(client, started, pid: pid)
            resume()
            frozenMs = (monotonicNanoseconds() - frozenAt) / 1_000_000
            reply = try finish(client, started, pid: pid)
        } else {
            reply = try finish(client, started, pid: pid)
            resume()
            frozenMs = (monotonicNanoseconds() - frozenAt) / 1_000_000
        }
        emit(CheckpointCommand.line(reply) + " parent \(first.crid) dirty-ranges \(ranges.count) frozen-ms \(frozenMs)")
        if let watch {
            try waitForImage(watch, crid: first.crid)
            try waitForImage(watch, crid: reply.crid)
        }
    }

    /// Waits for the listener writing to the watched DIR to publish `<crid>.ckpt` (or
    /// `<crid>-N.ckpt`) or `<crid>.failed` (`PublishedImageWatch` says why it watches).
    func waitForImage(_ watch: PublishedImageWatch, crid: UInt64) throws {
        let command = "checkpoint"
        let dir = watch.directory
        let deadline = Double(monotonicNanoseconds()) / 1e9 + waitTimeout
        while true {
            let found: PublishedImageWatch.Found?
            switch watch.look(crid: crid) {
            case let .success(f): found = f
            case .failure: throw failure(command, "--wait \(dir): the directory is gone", CkptExit.ioError)
            }
            if case let .image(image, present) = found {
                emit("image \(dir)/\(image)")
                if !present {
                    report(command, "\(dir)/\(image) was published and is gone already: a listener with --store removes "
                           + "its copy once the store has it (--store-keep-local keeps it)")
                }
                return
            }
            if case let .failed(failed) = found {
                let path = dir + "/" + failed
                var reason: String?
                // The listener writes the reason right after the rename.
                for _ in 0..<20 {
                    reason = readTextFile(path + ".reason")
                    if reason != nil { break }
                    usleep(50_000)
                }
                let text = reason.map { $0.split(separator: "\n").joined(separator: "; ") } ?? "no reason file"
                throw failure(command, "capture of crid \(crid) failed: \(text) (bytes kept in \(path))", CkptExit.failed)
            }
            if Double(monotonicNanoseconds()) / 1e9 > deadline {
                throw failure(command, "no image for crid \(crid) in \(dir) after \(waitTimeout) s: is `ckpt listen --dir \(dir)` the running listener?",
                              CkptExit.failed)
            }
            // Woken by the listener's rename (or its `.partial` and stats file coming and
            // going); 50 ms at most, so the listing above also runs when inotify did not
            // say (an overflowed queue, no watch).
            _ = watch.waitForChange(milliseconds: 50)
        }
    }
}
