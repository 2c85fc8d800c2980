#if canImport(Glibc)
import Glibc
#endif
import CkptTransport

extension CheckpointRun {
    /// `--tree`: the process and every descendant, one image each, all taken while the
    /// whole tree is stopped, so what one process's image says about a pipe it shares with
    /// another (the bytes in it) is what the other's says. With --stop each process not
    /// already stopped is stopped (SIGSTOP) until no new one appears (a process forked while
    /// the others were being stopped is found by the next look), and continued after the last
    /// stream, on every path; without it the kernel refuses any that is not stopped.
    func runTree(_ client: GenlClient, watch: PublishedImageWatch?) throws {
        let command = "checkpoint"
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
        guard var tree = ProcessTree.read(root: pid) else {
            throw failure(command, "no process \(pid) (in this pid namespace)", CkptExit.failed)
        }
        if stop {
            while true {
                for p in tree.pids where !stoppedHere.contains(p) && !ProcessStop(pid: p).isStopped() {
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
        for p in tree.pids {
            if let why = SinkGuard.refusal(pid: p, waitDirectory: wait) { throw failure(command, why, CkptExit.failed) }
            if ProcessTree.state(p) == "Z" {
                throw failure(command, "pid \(p) (of the tree of \(pid)) has exited and its parent has not waited for it (a zombie): "
                              + "not checkpointed (a restored parent could not wait for it)", CkptExit.failed)
            }
        }
        var crids: [UInt64] = []
        for p in tree.pids {
            let reply = try request(client, flags: 0, pid: p)
            emit(CheckpointCommand.line(reply) + " pid \(p)")
            crids.append(reply.crid)
        }
        resume()
        if let watch {
            for crid in crids { try waitForImage(watch, crid: crid) }
        }
    }
}
