#if canImport(Glibc)
import Glibc
#endif
import CCkptUAPI
import CkptProtocol
import CkptSystem
import CkptTransport

extension CheckpointRun {
    /// `--tree`: the process and every descendant, one image each, all taken while the
    /// whole tree is stopped, so what one process's image says about a pipe it shares with
    /// another (the bytes in it) is what the other's says. With --stop each process not
    /// already stopped is stopped (SIGSTOP) until no new one appears (a process forked while
    /// the others were being stopped is found by the next look), and continued after the last
    /// stream, on every path; without it the kernel refuses any that is not stopped.
    ///
    /// With --pre-copy each process of the running tree is pre-copied first (its soft-dirty
    /// bits reset, then its memory streamed while it runs); then the tree is stopped as with
    /// --stop, and each process's checkpoint carries only the pages it wrote since, naming
    /// its pre-copy. A process forked after the pre-copies gets a whole checkpoint; one that
    /// exited meanwhile leaves its pre-copy unused (said on stderr).
    ///
    /// With --hold each process's stream holds the rest of itself in kernel memory once the
    /// kernel has read the process (checkpoint-read), so the tree is continued when the last
    /// one has been read, not when the listener has all of them. With --stop --hold the
    /// streams are requested before the stop (`reserveAhead`), so the pages they hold are
    /// allocated while the tree runs; each is read at its go, in turn, after the stop.
    /// When the module's stream limits refuse a next stream (EAGAIN) while earlier ones of
    /// this tree still drain, the oldest is waited for and the request made again.
    ///
    /// A zombie in the tree (a child that exited and that its parent has not waited for) is
    /// neither stopped nor pre-copied: its image is its ids and exit status (the kernel's
    /// zombie flag, asked only for a zombie, so older modules still take the rest), and a
    /// restore of the tree makes it again for its parent to wait for (`... pid P zombie`).
    func runTree(_ client: GenlClient, watch: PublishedImageWatch?) throws {
        let command = "checkpoint"
        guard var tree = ProcessTree.read(root: pid) else {
            throw failure(command, "no process \(pid) (in this pid namespace)", CkptExit.failed)
        }
        // Before any stream: a listener among them, a zombie root.
        try refuseUncheckpointable(tree)
        let preCopies = preCopy ? try preCopyTree(client, tree) : [:]
        var ahead = hold && stop && !preCopy ? try reserveAhead(client, tree) : [:]
        // The processes are ours to resume from here: a ^C or a TERM waits until they are.
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&held, sig) }
        pthread_sigmask(SIG_BLOCK, &held, &previous)
        var stoppedHere: [Int32] = []
        func resume() {
            for p in stoppedHere { kill(p, SIGCONT) }
            stoppedHere = []
        }
        defer {
            resume()
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        let frozenAt = monotonicNanoseconds()
        if stop || preCopy {
            while true {
                for p in tree.pids where !stoppedHere.contains(p) && ProcessTree.state(p) != "Z" && !ProcessStop(pid: p).isStopped() {
                    if kill(p, SIGSTOP) == 0 { stoppedHere.append(p) }
                }
                for p in stoppedHere where !ProcessStop(pid: p).waitStopped(timeoutSeconds: 2) {
                    throw failure(command, "pid \(p) (of the tree of \(pid)) did not stop within 2 s of SIGSTOP (traced, or exiting?)",
                                  CkptExit.failed)
                }
                guard let now = ProcessTree.read(root: pid) else {
                    throw failure(command, "pid \(pid) exited while its tree was being stopped", CkptExit.failed)
                }
                if now == tree { break }
                tree = now
            }
        }
        try refuseUncheckpointable(tree)
        for (p, crid) in preCopies.sorted(by: { $0.key < $1.key }) where !tree.pids.contains(p) {
            report(command, "pid \(p) left the tree after its pre-copy (crid \(crid)): that pre-copy is not needed")
        }
        // One stream per process, in turn. With --hold the next starts once the kernel has
        // read the last (its stream waits in kernel memory), and the lines come after the
        // tree is continued; without, once the last stream has ended.
        var crids: [UInt64] = []
        var waiting: [(started: GenlClient.AdmittedCheckpoint, pid: Int32, suffix: String, reply: CheckpointReply?)] = []
        // A request the stream limits refuse while this tree's held streams drain: the
        // oldest still draining is waited for (its line kept for later), then it is retried.
        // The kernel gives a stream's slot, and its claim on the process, back just after
        // its checkpoint-done, so once none is left to wait for, a refusal is retried for
        // up to 0.5 s: EAGAIN after a wait here, EBUSY after `endAhead` ended this
        // process's own stream (`afterEnd`).
        func beginAfterDrains(flags: UInt32, parent: PreCopyParent? = nil, pid p: Int32,
                              afterEnd: Bool = false) throws -> GenlClient.AdmittedCheckpoint {
            var waited = false, retries = 0
            while true {
                do throws(TransportError) {
                    return try client.beginCheckpoint(pid: UInt32(p), flags: flags, timeoutMs: timeoutMs ?? 0, parent: parent)
                } catch {
                    let busy = afterEnd && error.errno == .resourceBusy
                    guard error.errno == .resourceTemporarilyUnavailable || busy else { throw checkpointFailure(error, pid: p) }
                    if !busy, let i = waiting.firstIndex(where: { $0.reply == nil }) {
                        waiting[i].reply = try finish(client, waiting[i].started, pid: waiting[i].pid)
                        waited = true
                        continue
                    }
                    guard waited || busy, retries < 50 else { throw checkpointFailure(error, pid: p) }
                    retries += 1
                    usleep(10_000)
                }
            }
        }
        // A stream requested ahead whose process exited before the stop: ended (its kernel
        // side ends it at once), so that a zombie's own request finds the process free.
        // Returns whether there was one.
        @discardableResult
        func endAhead(_ p: Int32) -> Bool {
            guard let started = ahead.removeValue(forKey: p) else { return false }
            do throws(TransportError) {
                try? client.checkpointGo(started)
                _ = try client.awaitCheckpointDone(started)
            } catch {}
            return true
        }
        for p in tree.pids {
            let zombie = ProcessTree.state(p) == "Z"
            if zombie, let crid = preCopies[p] {
                report(command, "pid \(p) exited after its pre-copy (crid \(crid)): a zombie now, that pre-copy is not needed")
            }
            let started: GenlClient.AdmittedCheckpoint
            let suffix: String
            let endedAhead = zombie && endAhead(p)
            if !zombie, let admitted = ahead.removeValue(forKey: p) {
                try go(client, admitted, pid: p)
                started = admitted
                suffix = " pid \(p)"
            } else if !zombie, let parent = preCopies[p] {
                let ranges: [Range<UInt64>]
                do throws(SoftDirtyScan.Failure) { ranges = try SoftDirtyScan(pid: p).scan() } catch {
                    throw failure(command, "pid \(p): \(error)", CkptExit.failed)
                }
                started = try beginAfterDrains(flags: holdFlag, parent: PreCopyParent(crid: parent, ranges: ranges), pid: p)
                suffix = " parent \(parent) dirty-ranges \(ranges.count) pid \(p)"
            } else {
                // A zombie's request has no hold flag: it has no memory to hold, and its
                // stream ends at once (awaitRead then returns at its checkpoint-done).
                started = try beginAfterDrains(flags: zombie ? UInt32(CKPT_CHECKPOINT_FLAGS_ZOMBIE.rawValue) : holdFlag, pid: p,
                                               afterEnd: endedAhead)
                suffix = " pid \(p)" + (zombie ? " zombie" : "")
            }
            crids.append(started.crid)
            if hold {
                try awaitRead(client, started, pid: p)
                waiting.append((started, p, suffix, nil))
            } else {
                emit(CheckpointCommand.line(try finish(client, started, pid: p)) + suffix)
            }
        }
        // How long this command kept the tree stopped (with --stop, the first SIGSTOP to the
        // last SIGCONT); nothing when it stopped none (a tree stopped before it).
        let stoppedAny = !stoppedHere.isEmpty
        resume()
        if preCopy || stoppedAny {
            emit("tree of \(tree.pids.count) processes frozen-ms \((monotonicNanoseconds() - frozenAt) / 1_000_000)")
        }
        for p in Array(ahead.keys) {
            report(command, "pid \(p) left the tree before it was stopped: no image of it")
            endAhead(p)
        }
        for h in waiting {
            emit(CheckpointCommand.line(try h.reply ?? finish(client, h.started, pid: h.pid)) + h.suffix)
        }
        if let watch {
            for p in tree.pids { if let crid = preCopies[p] { try waitForImage(watch, crid: crid) } }
            for crid in crids { try waitForImage(watch, crid: crid) }
        }
    }

    /// A listener among the tree's processes (its stream would stall in itself), or a root
    /// that is a zombie (nothing of the tree would wait for it).
    private func refuseUncheckpointable(_ tree: ProcessTree) throws {
        for p in tree.pids {
            if let why = SinkGuard.refusal(pid: p, waitDirectory: wait) { throw failure("checkpoint", why, CkptExit.failed) }
        }
        if ProcessTree.state(pid) == "Z" {
            throw failure("checkpoint", "pid \(pid) has exited and its parent has not waited for it (a zombie): "
                          + "it comes back only with its parent's tree", CkptExit.failed)
        }
    }

    /// Each running process's pre-copy: its soft-dirty bits reset, then its memory streamed
    /// (`pre-copy crid N ... pid P`). Returns pid -> the pre-copy's crid. A process gone
    /// before its turn is left out (the stop finds the tree as it is then).
    private func preCopyTree(_ client: GenlClient, _ tree: ProcessTree) throws -> [Int32: UInt64] {
        let command = "checkpoint"
        let tracked: Bool
        do throws(SoftDirtyScan.Failure) { tracked = try SoftDirtyScan.kernelTracksWrites() } catch {
            throw failure(command, "\(error)", CkptExit.failed)
        }
        guard tracked else {
            throw failure(command, "this kernel does not track written pages (soft-dirty bits, CONFIG_MEM_SOFT_DIRTY): "
                          + "--pre-copy cannot tell what changed; checkpoint with --tree --stop instead", CkptExit.failed)
        }
        var crids: [Int32: UInt64] = [:]
        for p in tree.pids where ProcessTree.state(p) != "Z" {
            do throws(SoftDirtyScan.Failure) { try SoftDirtyScan(pid: p).reset() } catch {
                if kill(p, 0) != 0 { continue }
                throw failure(command, "pid \(p): \(error)", CkptExit.failed)
            }
            let first = try request(client, flags: UInt32(CKPT_CHECKPOINT_FLAGS_PRE_COPY.rawValue), pid: p)
            emit("pre-copy " + CheckpointCommand.line(first) + " pid \(p)")
            crids[p] = first.crid
        }
        return crids
    }
}
